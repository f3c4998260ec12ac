"""What the administrators are told (bot.present.notices): notices and the /runnow summary."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.core.errors import TemporaryDataError
from bot.core.market_data import RefreshReport
from bot.core.models import Pair, QualityIssue, QualityKind
from bot.core.service import CheckResult
from bot.present.notices import (
    JOB_FAILED,
    delivery_failed,
    feeds_stopped,
    job_failed_html,
    job_summary_html,
    no_complete_data,
    notice,
    retrying_at,
)
from tests.fakes.messages import hand_made_snapshot, stored_alert, visible


def _result(**errors: str) -> CheckResult:
    """A run of 2024-06-14 that recorded two alerts; ``errors``: symbol to refresh error."""
    return CheckResult(
        refresh=RefreshReport(errors={s: TemporaryDataError(e) for s, e in errors.items()}),
        recorded=[stored_alert(), stored_alert()],
        snapshot=hand_made_snapshot(),
        held_back={},
    )


# --------------------------------------------------------------------------- notices


def test_a_notice_has_its_title_the_detail_and_corrbot_below() -> None:
    """A notice reads as its title, the detail as the lead, "corrbot" as the footer."""
    message = notice(JOB_FAILED, "DataError: HTTP 503")
    assert (message.title, message.lead, message.footer) == (
        "The daily job failed",
        "DataError: HTTP 503",
        "corrbot",
    )


def test_a_notice_without_detail_points_to_the_logs() -> None:
    """An empty detail becomes "See the logs." (Telegram refuses an empty lead anyway)."""
    assert notice(JOB_FAILED, "").lead == "See the logs."


def test_a_long_detail_is_cut_to_be_read_at_a_glance() -> None:
    """A notice and a failed delivery keep the first 3000 characters of their detail."""
    detail = "x" * 2999 + "yz" + "!" * 5000
    assert notice(JOB_FAILED, detail).lead == "x" * 2999 + "y"
    assert delivery_failed(detail).lead == "x" * 2999 + "y"


def test_feeds_stopped_is_singular_for_one_feed() -> None:
    """One frozen feed and several read differently."""
    assert feeds_stopped(1) == "A price feed stopped moving"
    assert feeds_stopped(3) == "Price feeds stopped moving"


def test_no_complete_data_names_the_session_and_the_minutes_of_retries() -> None:
    """The title of the notice when data never arrived says for which session and how long."""
    assert no_complete_data(date(2024, 6, 14), 90) == (
        "No complete data for 2024-06-14 after 90 minutes of retries"
    )


def test_retrying_at_is_a_new_line_with_the_utc_time() -> None:
    """A failure that will be retried gets a line with the retry's hour and minute."""
    assert retrying_at(datetime(2024, 6, 14, 21, 5, tzinfo=UTC)) == "\nRetrying at 21:05 UTC."


def test_delivery_failed_says_later_failures_are_counted_not_told() -> None:
    """A delivery given up for good is told once: its footer says the rest are only counted."""
    message = delivery_failed("spike:BTC~PSCT:30:2024-06-14 to chat 7: Forbidden")
    assert message.title == "A delivery failed for good"
    assert message.lead == "spike:BTC~PSCT:30:2024-06-14 to chat 7: Forbidden"
    assert message.footer == "corrbot: later failures of this alert are counted, not told"


# --------------------------------------------------------------------------- /runnow


def test_job_failed_html_escapes_the_detail() -> None:
    """The exception text may hold ``<``, ``>`` or ``&``: it is escaped after the title."""
    html = job_failed_html("KeyError: <PSCT> & co")
    assert html == "The daily job failed: KeyError: &lt;PSCT&gt; &amp; co"


def test_job_summary_gives_time_session_and_new_alerts() -> None:
    """The summary: seconds to a tenth, the session the data is of, the alerts recorded."""
    html = job_summary_html(_result(), 12.345)
    assert html == ("<b>Daily job done</b> in 12.3 s: data as of 2024-06-14, 2 new alert(s).")


def test_job_summary_without_a_snapshot_says_n_a() -> None:
    """A run that produced no snapshot has no session: "data as of n/a"."""
    result = CheckResult(refresh=RefreshReport(), recorded=[], snapshot=None, held_back={})
    assert "data as of n/a, 0 new alert(s)." in job_summary_html(result, 1.0)


def test_job_summary_lists_the_first_ten_problems_escaped() -> None:
    """Each problem gets a warning line, escaped; ten at most, in the order the run gives."""
    errors = {f"SYM{i:02d}": f"HTTP <50{i % 10}> & retry" for i in range(12)}
    result = _result(**errors)
    lines = visible(job_summary_html(result, 1.0)).splitlines()
    assert lines[1:] == [f"⚠️ {problem}" for problem in result.problems()[:10]]
    assert lines[1] == "⚠️ SYM00: HTTP <500> & retry"


def test_job_summary_lists_pairs_held_back() -> None:
    """A pair not evaluated because of bad data is among the problems."""
    issue = QualityIssue("PSCT", QualityKind.STALE, "last close 2024-06-12")
    result = CheckResult(
        refresh=RefreshReport(),
        recorded=[],
        snapshot=None,
        held_back={Pair("BTC", "PSCT"): [issue]},
    )
    lines = job_summary_html(result, 1.0).splitlines()
    assert lines[1:] == ["⚠️ BTC~PSCT held back: PSCT: stale: last close 2024-06-12"]
