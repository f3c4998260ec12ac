"""The outbox's own rules, below the sender: when a delivery falls due, and to whom.

A rescheduled delivery falls due no earlier than it was given; an episode's follow-up goes
only to the chats that got its opening, after it, as a silent reply to it; the audience the
dry run reports is counted by the same rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.store import Store
from bot.core.store.chats import Level
from bot.core.store.outbox import Outbox

NOW = datetime(2024, 6, 3, 23, 0, 10, 900_000, tzinfo=UTC)  # 0.9 s into a second


def _one_delivery(store: Store) -> int:
    """One chat subscribed, one alert recorded: the id of its single delivery."""
    store.subscribers.subscribe(7, kind="private", title="", thread_id=None, now=NOW)
    alert = Alert(
        AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 6, 3), 0.7, 0.1, 3.3, None, None
    )
    payload = Message(title="spike", lead="lead", footer="corrbot").to_json()
    store.record_check([(alert, payload)], window=30, states={}, snapshot=None, now=NOW)
    [(delivery_id,)] = store.query("SELECT id FROM deliveries")
    return int(str(delivery_id))


def test_a_retry_never_falls_due_before_the_time_it_was_given(tmp_path: Path) -> None:
    """A 429's retry_after of 0.5 s from x.9 s is due at x+2.0 s, not at the truncated x+1."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        delivery = _one_delivery(store)
        assert outbox.claim(delivery)
        wanted = NOW + timedelta(seconds=0.5)  # x+1.4 s
        outbox.retry(delivery, at=wanted, error="429", count=False)
        early = [d.id for d in outbox.due(wanted - timedelta(seconds=0.3))]  # x+1.1 s
        on_time = [d.id for d in outbox.due(wanted + timedelta(seconds=0.6))]  # x+2.0 s
    assert early == []
    assert on_time == [delivery]


# ---- episodes: follow-ups answer the opening, in the chats that got it ---------------------

PAIR = Pair("BTC", "PSCT")
OPENING = Alert(AlertKind.SPIKE, PAIR, 30, date(2024, 8, 5), 0.62, 0.18, 3.4, "linked", "linked")
FOLLOW_UP = Alert(
    AlertKind.REGIME,
    PAIR,
    30,
    date(2024, 8, 9),
    0.74,
    0.62,
    3.9,
    "linked",
    "coupled",
    notify=False,
    episode=OPENING.key,
)


def _record(store: Store, alert: Alert) -> None:
    payload = Message(title=alert.kind.value, lead="lead", footer="corrbot").to_json()
    store.record_check([(alert, payload)], window=30, states={}, snapshot=None, now=NOW)


def _subscribe(store: Store, *chats: int) -> None:
    for chat in chats:
        store.subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=NOW)


def _deliveries(store: Store, alert: Alert) -> list[int]:
    rows = store.query(
        "SELECT d.chat_id FROM deliveries d JOIN outbound o ON o.id = d.outbound_id "
        "WHERE o.key = ? ORDER BY d.chat_id",
        [alert.key],
    )
    return [int(str(row[0])) for row in rows]


def _send_all(outbox: Outbox, message_ids: dict[int, int]) -> None:
    """Settle every due delivery as sent, with the chat's Telegram message id."""
    for due in outbox.due(NOW):
        assert outbox.claim(due.id)
        outbox.sent(due.id, message_id=message_ids[due.chat_id], now=NOW)


def test_a_follow_up_waits_for_the_opening_then_answers_it(tmp_path: Path) -> None:
    """While the opening is still pending in a chat, its reply there is held back."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        _subscribe(store, 1)
        _record(store, OPENING)
        _record(store, FOLLOW_UP)  # the same run: both pending
        held = [d.key for d in outbox.due(NOW)]
        [opening] = outbox.due(NOW)
        assert outbox.claim(opening.id)
        in_flight = [d.key for d in outbox.due(NOW)]
        outbox.sent(opening.id, message_id=812, now=NOW)
        [reply] = outbox.due(NOW)
    assert held == [OPENING.key]
    assert in_flight == [], "nor while the opening is being sent"
    assert opening.reply_to is None
    assert not opening.silent
    assert (reply.key, reply.reply_to, reply.silent) == (FOLLOW_UP.key, 812, True)


def test_a_follow_up_goes_only_to_chats_that_got_the_opening(tmp_path: Path) -> None:
    """A chat that subscribed after the opening, or lost it, gets no reply to it."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        _subscribe(store, 1, 2)
        _record(store, OPENING)
        [to_two] = [d for d in outbox.due(NOW) if d.chat_id == 2]
        outbox.drop(to_two.id, error="forbidden: bot was blocked by the user")
        _send_all(outbox, {1: 30})
        _subscribe(store, 2, 3)  # 2 unblocked the bot, 3 is new: neither saw the opening
        _record(store, FOLLOW_UP)
        due = outbox.due(NOW)
        openings = _deliveries(store, OPENING)
    assert openings == [1, 2]
    assert [(d.chat_id, d.key, d.reply_to, d.silent) for d in due] == [(1, FOLLOW_UP.key, 30, True)]


def test_a_chat_whose_setting_is_off_gets_no_follow_up(tmp_path: Path) -> None:
    """``/settings regimes off`` stops the band follow-ups there; other chats still get them."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        _subscribe(store, 1, 2)
        _record(store, OPENING)
        _send_all(outbox, {1: 11, 2: 22})
        store.subscribers.update_settings(2, regimes=Level.OFF, now=NOW)
        _record(store, FOLLOW_UP)
        due = outbox.due(NOW)
        follow_ups = _deliveries(store, FOLLOW_UP)
    assert follow_ups == [1]
    assert [(d.chat_id, d.reply_to) for d in due] == [(1, 11)]


def test_a_held_follow_up_does_not_make_the_outbox_look_due(tmp_path: Path) -> None:
    """Behind an opening that retries later, the next due time is that retry, not now.

    Otherwise a sender draining the outbox would poll a reply it may not send yet, over
    and over until the opening's retry, instead of sleeping until then.
    """
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        _subscribe(store, 1)
        _record(store, OPENING)
        [opening] = outbox.due(NOW)
        assert outbox.claim(opening.id)
        retry = NOW + timedelta(minutes=10)
        outbox.retry(opening.id, at=retry, error="502 Bad Gateway")
        _record(store, FOLLOW_UP)  # due now, but held until the opening is settled
        due = outbox.due(NOW)
        upcoming = outbox.next_due_at()
    assert due == []
    assert upcoming == retry.replace(microsecond=0) + timedelta(seconds=1)


def test_a_chat_whose_opening_was_given_up_on_gets_no_follow_up(tmp_path: Path) -> None:
    """After the retries of the opening ran out there, a reply would answer nothing."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        _subscribe(store, 1, 2)
        _record(store, OPENING)
        [to_two] = [d for d in outbox.due(NOW) if d.chat_id == 2]
        outbox.fail(to_two.id, error="timed out, 8 attempts")
        _send_all(outbox, {1: 30})
        _record(store, FOLLOW_UP)
        follow_ups = _deliveries(store, FOLLOW_UP)
    assert follow_ups == [1]


# ---- who an alert would reach, as the dry run reports it -----------------------------------


def test_an_opening_reaches_every_chat_whose_setting_is_not_off(tmp_path: Path) -> None:
    """An episode's first alert would reach every active chat not switched off for its kind."""
    with Store.open(tmp_path / "s.db") as store:
        _subscribe(store, 1, 2, 3)
        store.subscribers.update_settings(3, spikes=Level.OFF, now=NOW)
        assert store.outbox.audience(AlertKind.SPIKE) == 2


def test_a_follow_up_reaches_only_the_chats_that_were_sent_its_opening(tmp_path: Path) -> None:
    """A follow-up would reach only the chats that were sent (or will be sent) its opening."""
    with Store.open(tmp_path / "s.db") as store:
        _subscribe(store, 1, 2)
        _record(store, OPENING)
        outbox = store.outbox
        [to_two] = [d for d in outbox.due(NOW) if d.chat_id == 2]
        outbox.drop(to_two.id, error="forbidden: bot was blocked by the user")
        _subscribe(store, 2, 3)  # back, and new: neither has the opening
        everyone = store.outbox.audience(AlertKind.REGIME)
        audience = store.outbox.audience(AlertKind.REGIME, follows=OPENING.key)
    assert (everyone, audience) == (3, 1)


# ---- rows that cannot be read, in-flight rows of others, outage refunds -------------------


def _attempts_and_status(store: Store, delivery: int) -> tuple[int, str]:
    [(attempts, status)] = store.query(
        "SELECT attempts, status FROM deliveries WHERE id = ?", [delivery]
    )
    return int(str(attempts)), str(status)


def test_a_row_whose_message_cannot_be_read_is_failed_not_raised(tmp_path: Path) -> None:
    """An old-format payload: due() fails that row with its error and reports it set aside."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        delivery = _one_delivery(store)
        with store.transaction() as conn:
            conn.execute('UPDATE outbound SET payload = \'{"text": "v1"}\'')
        assert outbox.due(NOW) == []
        [(status, error)] = store.query("SELECT status, last_error FROM deliveries")
        [aside] = outbox.set_aside
    assert status == "failed"
    assert "unreadable message" in str(error)
    assert (aside.id, aside.chat_id) == (delivery, 7)


def test_resume_leaves_the_rows_named_in_flight_alone(tmp_path: Path) -> None:
    """Resuming after a crash turns ``sending`` rows back to pending, except this process's own."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        delivery = _one_delivery(store)
        outbox.claim(delivery)
        assert outbox.resume(exclude={delivery}) == 0
        assert outbox.status(delivery) == "sending"
        assert outbox.resume() == 1


def test_a_refund_gives_back_one_attempt_and_makes_the_row_due_now(tmp_path: Path) -> None:
    """An attempt lost to an outage is given back, and the row is due at once."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        delivery = _one_delivery(store)
        outbox.claim(delivery)
        outbox.retry(delivery, at=NOW + timedelta(minutes=2), error="502")
        assert outbox.refund({delivery}, now=NOW) == 1
        due = [d.id for d in outbox.due(NOW + timedelta(seconds=1))]
        assert _attempts_and_status(store, delivery) == (0, "pending")
    assert due == [delivery]


def test_a_retry_does_not_revive_a_row_settled_meanwhile(tmp_path: Path) -> None:
    """A delivery dropped while in flight (merged by a migration) stays dropped."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = store.outbox
        delivery = _one_delivery(store)
        outbox.claim(delivery)
        outbox.drop(delivery, error="merged")
        outbox.retry(delivery, at=NOW, error="chat migrated")
        assert outbox.status(delivery) == "dropped"
