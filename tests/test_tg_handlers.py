"""The command handlers end to end: the real python-telegram-bot stack against a fake Bot API."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.core.store import Store
from bot.core.store.meta import LastRun
from tests.fakes.bot_harness import ADMIN, START, running_bot, until
from tests.fakes.messages import visible

USER, OTHER_USER = 1001, 1002
GROUP = -1001234567890


def _chat_row(bot, chat_id: int):  # type: ignore[no-untyped-def]
    rows = bot.store.query(
        "SELECT active, spikes, regimes, digest, thread_id FROM chats WHERE chat_id = ?", [chat_id]
    )
    return rows[0] if rows else None


async def test_start_subscribes_and_stop_keeps_settings(tmp_path: Path) -> None:
    """/start subscribes; /stop deactivates without forgetting the chat's settings."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/start", chat_id=USER, user_id=USER)
        [welcome] = await bot.server.wait_for_reply(USER)
        assert "Subscribed." in welcome.text
        bot.server.send_command("/settings spikes silent", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER)
        bot.server.send_command("/stop", chat_id=USER, user_id=USER)
        [bye] = await bot.server.wait_for_reply(USER)
        assert "Unsubscribed" in bye.text
        assert _chat_row(bot, USER) == (0, "silent", "on", 0, None)
        bot.server.send_command("/subscribe", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER)
        assert _chat_row(bot, USER) == (1, "silent", "on", 0, None)


async def test_corr_replies_with_every_equity_and_the_leader(tmp_path: Path) -> None:
    """/corr shows each equity over both windows with 95% intervals, and the tested leader."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/corr", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER)
    assert reply.parse_mode == "HTML"
    for text in ("BTC vs US equities", "PSCT", "IWM", "QQQ", "30d", "90d", "95%"):
        assert text in reply.text
    lines = visible(reply.text).splitlines()
    [leader] = [line for line in lines if line.startswith("Leading equity: ")]
    assert "Williams' test" in leader
    assert ("ahead beyond noise" in leader) != ("statistically tied" in leader)
    assert "as of the 2024-06-03 NYSE close" in reply.text


async def test_corr_for_another_symbol_and_a_bad_one(tmp_path: Path) -> None:
    """/corr ETH switches the crypto; an unknown symbol gets the usage line."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/corr eth", chat_id=USER, user_id=USER)
        [eth] = await bot.server.wait_for_reply(USER)
        bot.server.send_command("/corr DOGE", chat_id=USER, user_id=USER)
        [bad] = await bot.server.wait_for_reply(USER)
    assert "ETH vs US equities" in eth.text
    assert "Unknown symbol DOGE" in bad.text
    assert "Usage: /corr [SYMBOL]" in bad.text


async def test_corr_before_the_first_computation_says_when(tmp_path: Path) -> None:
    """Before any computation, /corr says when the numbers will be ready instead of failing."""
    with Store.open(tmp_path / "bot.sqlite3") as store:  # a run is on record: no catch-up
        store.meta.record_run(LastRun(START, START, True, 0, None))
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.send_command("/corr", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER)
    assert "not computed yet" in reply.text
    assert "Tuesday 2024-06-04 17:30 EDT" in reply.text


async def test_about_weighs_the_study_against_the_latest_numbers(tmp_path: Path) -> None:
    """/about explains the study and gives today's evidence on each claim, with its tests."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/about", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER)
    assert reply.parse_mode == "HTML"
    assert "In January 2025 JPMorgan" in reply.text
    assert "As of the 2024-06-03 NYSE close:" in reply.text
    claims = (
        "Crypto moves most with small-cap tech (PSCT): ",
        "More than with large-cap tech (QQQ): ",
        "Stronger for BTC than for the altcoins: ",
        "Positive since 2020: ",
        "Highest when tech is re-priced: not settled",
    )
    lines = visible(reply.text).splitlines()
    for claim in claims:
        [line] = [line for line in lines if line.startswith(claim)]
        assert line.rsplit(": ", 1)[1] in {"evidence for", "evidence against", "not settled"}
    assert "BTC~PSCT " in reply.text
    assert "(Williams' test p=" in reply.text


async def test_about_before_the_first_computation_says_so(tmp_path: Path) -> None:
    """Before any numbers exist, /about explains the method and says the evidence is to come."""
    with Store.open(tmp_path / "bot.sqlite3") as store:  # a run is on record: no catch-up
        store.meta.record_run(LastRun(START, START, True, 0, None))
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.send_command("/about", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER)
    assert "How corrbot measures the link" in reply.text
    assert "No numbers yet: the evidence on each claim appears here after the first daily run." in (
        reply.text
    )
    assert "evidence for" not in reply.text


async def test_chart_sends_a_png(tmp_path: Path) -> None:
    """/chart answers with a PNG photo; /chart 90 too; /chart 7 gets the usage."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/chart", chat_id=USER, user_id=USER)
        [photo] = await bot.server.wait_for_reply(USER, timeout=15)
        bot.server.send_command("/chart 90", chat_id=USER, user_id=USER)
        [photo90] = await bot.server.wait_for_reply(USER, timeout=15)
        bot.server.send_command("/chart 7", chat_id=USER, user_id=USER)
        [bad] = await bot.server.wait_for_reply(USER)
    assert photo.method == "sendPhoto"
    assert photo.photo is not None
    assert photo.photo.startswith(b"\x89PNG")
    assert photo90.photo is not None
    assert photo90.photo != photo.photo
    assert "Window 7 is not computed" in bad.text


async def test_alerts_lists_recent_alerts_and_checks_n(tmp_path: Path) -> None:
    """/alerts 2 lists the two newest alerts; /alerts 99 gets the usage."""
    async with running_bot(tmp_path) as bot:
        bot.queue_alert(date(2024, 5, 30))
        bot.queue_alert(date(2024, 5, 31))
        bot.queue_alert(date(2024, 6, 3))
        bot.server.send_command("/alerts 2", chat_id=USER, user_id=USER)
        [listing] = await bot.server.wait_for_reply(USER)
        bot.server.send_command("/alerts 99", chat_id=USER, user_id=USER)
        [bad] = await bot.server.wait_for_reply(USER)
    assert "2024-06-03" in listing.text
    assert "2024-05-31" in listing.text
    assert "2024-05-30" not in listing.text
    assert "Usage: /alerts [N]" in bad.text


async def test_settings_by_text_and_by_keyboard(tmp_path: Path) -> None:
    """Settings change by text and by the inline keyboard, and the message is updated."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/start", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER)
        bot.server.send_command("/settings regimes off", chat_id=USER, user_id=USER)
        [shown] = await bot.server.wait_for_reply(USER)
        assert "Regime alerts: <b>off</b>" in shown.text
        assert shown.reply_markup is not None
        bot.server.press_button(
            "set:digest:on", chat_id=USER, user_id=USER, message_id=shown.message_id
        )
        await until(lambda: bot.server.calls("answerCallbackQuery"), what="answerCallbackQuery")
        await until(lambda: bot.server.edits, what="the settings message edited")
        assert _chat_row(bot, USER) == (1, "on", "off", 1, None)
        bot.server.send_command("/settings spikes loud", chat_id=USER, user_id=USER)
        [bad] = await bot.server.wait_for_reply(USER)
        assert "Usage: /settings" in bad.text


async def test_admin_commands_are_refused_to_others(tmp_path: Path) -> None:
    """/status and /runnow answer only the configured admin user ids."""
    async with running_bot(tmp_path) as bot:
        for command in ("/status", "/runnow"):
            bot.server.send_command(command, chat_id=USER, user_id=USER)
            [refused] = await bot.server.wait_for_reply(USER)
            assert "for the bot's administrators" in refused.text
        bot.server.send_command("/status", chat_id=GROUP, user_id=USER, chat_type="supergroup")
        [group_refused] = await bot.server.wait_for_reply(GROUP)
        assert "for the bot's administrators" in group_refused.text
        bot.server.send_command("/status", chat_id=ADMIN, user_id=ADMIN)
        [status] = await bot.server.wait_for_reply(ADMIN)
    assert "Subscribers:" in status.text
    assert "Next run:" in status.text
    assert "BTC: synthetic" in status.text


async def test_runnow_runs_the_job_for_an_admin(tmp_path: Path) -> None:
    """/runnow acknowledges, runs the daily job and reports the outcome."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/runnow", chat_id=ADMIN, user_id=ADMIN)
        replies = await bot.server.wait_for_reply(ADMIN, count=2, timeout=20)
    assert "Running the daily job" in replies[0].text
    assert "Daily job done" in replies[1].text


async def test_in_a_group_only_administrators_subscribe(tmp_path: Path) -> None:
    """A group member cannot subscribe the group; an administrator can."""
    async with running_bot(tmp_path) as bot:
        bot.server.set_member_status(GROUP, OTHER_USER, "member")
        bot.server.set_member_status(GROUP, USER, "administrator")
        bot.server.send_command(
            "/subscribe", chat_id=GROUP, user_id=OTHER_USER, chat_type="supergroup"
        )
        [refused] = await bot.server.wait_for_reply(GROUP)
        assert "only its administrators" in refused.text
        assert _chat_row(bot, GROUP) is None
        bot.server.send_command(
            "/subscribe@corr_test_bot", chat_id=GROUP, user_id=USER, chat_type="supergroup"
        )
        [ok] = await bot.server.wait_for_reply(GROUP)
        assert "Subscribed." in ok.text
        bot.server.send_command(
            "/settings spikes off", chat_id=GROUP, user_id=OTHER_USER, chat_type="supergroup"
        )
        [denied] = await bot.server.wait_for_reply(GROUP)
        assert "only its administrators" in denied.text
        assert _chat_row(bot, GROUP)[1] == "on"


async def test_a_group_member_pressing_a_settings_button_is_refused(tmp_path: Path) -> None:
    """The presser is checked, not the keyboard message's sender_chat (the group itself)."""
    async with running_bot(tmp_path) as bot:
        bot.server.set_member_status(GROUP, USER, "administrator")
        bot.server.set_member_status(GROUP, OTHER_USER, "member")
        bot.server.send_command("/subscribe", chat_id=GROUP, user_id=USER, chat_type="supergroup")
        await bot.server.wait_for_reply(GROUP)
        bot.server.send_command("/settings", chat_id=GROUP, user_id=USER, chat_type="supergroup")
        [keyboard] = await bot.server.wait_for_reply(GROUP)
        stored = bot.server.messages[GROUP, keyboard.message_id]
        stored["sender_chat"] = dict(stored["chat"])  # as Telegram shows it in some groups
        bot.server.press_button(
            "set:spikes:off", chat_id=GROUP, user_id=OTHER_USER, message_id=keyboard.message_id
        )
        [answer] = await until(
            lambda: bot.server.calls("answerCallbackQuery"), what="answerCallbackQuery"
        )
        spikes = _chat_row(bot, GROUP)[1]
    assert "Only group administrators" in answer.params["text"]
    assert spikes == "on"


async def test_an_edited_start_does_not_subscribe(tmp_path: Path) -> None:
    """Editing a message into /start runs no command: only new messages do."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER)
        message = dict(bot.server.messages[USER, 1], text="/start", edit_date=1)
        bot.server.offer_update({"edited_message": message})
        bot.server.send_command("/about", chat_id=USER, user_id=USER)
        [about] = await bot.server.wait_for_reply(USER)
        await until(lambda: not bot.server.pending_updates, what="the edit confirmed")
        replies = [m.text for m in bot.server.sent_to(USER)]
        row = _chat_row(bot, USER)
    assert "The study" in about.text
    assert row is None
    assert len(replies) == 2


async def test_subscribing_from_a_forum_topic_delivers_there(tmp_path: Path) -> None:
    """Alerts go to the forum topic the chat subscribed from."""
    async with running_bot(tmp_path) as bot:
        bot.server.set_member_status(GROUP, USER, "creator")
        bot.server.send_command(
            "/subscribe",
            chat_id=GROUP,
            user_id=USER,
            chat_type="supergroup",
            message_thread_id=77,
            is_topic_message=True,
        )
        await bot.server.wait_for_reply(GROUP)
        bot.queue_alert(date(2024, 6, 3))
        [alert] = await bot.server.wait_for_reply(GROUP, timeout=15)
    assert alert.message_thread_id == 77
    assert "correlation spike" in alert.text


async def test_unknown_command_gets_the_command_list(tmp_path: Path) -> None:
    """An unknown command is answered with usage; one meant for another bot is ignored."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/frobnicate", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER)
        bot.server.send_command(
            "/frobnicate@some_other_bot", chat_id=GROUP, user_id=USER, chat_type="supergroup"
        )
        bot.server.send_command(
            "/help@corr_test_bot", chat_id=GROUP, user_id=USER, chat_type="supergroup"
        )
        [group_reply] = await bot.server.wait_for_reply(GROUP)
    assert "Unknown command /frobnicate" in reply.text
    assert "/corr [SYMBOL]" in reply.text
    assert "Unknown command" not in group_reply.text
