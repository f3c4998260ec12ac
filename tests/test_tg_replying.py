"""How handlers answer: which replies are retried and how often, and what counts as a number.

``send`` is handed small coroutines that raise python-telegram-bot's own exceptions, as
``message.reply_html`` would; the backoff between retries is set to nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.tg import replying
from bot.tg.replying import REPLY_ATTEMPTS, REPLY_FLOOD_ATTEMPTS, count, send


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replying, "_REPLY_BACKOFF_SECONDS", 0)


class Attempts:
    """An attempt that raises the given errors in turn, then answers "sent"; counts calls."""

    def __init__(self, *errors: Exception) -> None:
        self._errors = list(errors)
        self.calls = 0

    def __call__(self) -> Awaitable[str]:
        self.calls += 1
        return self._next()

    async def _next(self) -> str:
        if self._errors:
            raise self._errors.pop(0)
        return "sent"


def _always(error: Callable[[], Exception]) -> Attempts:
    """An attempt that fails every time (more often than any budget)."""
    return Attempts(*(error() for _ in range(50)))


def _flood() -> RetryAfter:
    return RetryAfter(timedelta(seconds=1))


# ---- count ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7", 7), ("030", 30), ("999999", 999_999)])
def test_count_reads_plain_whole_numbers_of_up_to_six_digits(text: str, value: int) -> None:
    """ASCII digits only, at most six of them, read as the number they spell."""
    assert count(text) == value


@pytest.mark.parametrize("text", ["²", "-1", "1234567", "", "+5", " 5", "1.5", "٣"])
def test_count_refuses_anything_else(text: str) -> None:
    """Superscripts, signs, seven digits, spaces, decimals, non-ASCII digits: None."""
    assert count(text) is None


# ---- send -------------------------------------------------------------------------------


async def test_send_retries_a_network_error_until_it_goes_through() -> None:
    """A 5xx and a timeout, then Telegram takes it: the reply's answer is returned."""
    attempt = Attempts(NetworkError("Bad Gateway"), TimedOut())
    assert await send(attempt) == "sent"
    assert attempt.calls == 3


async def test_send_gives_up_after_reply_attempts_network_errors() -> None:
    """Every try failing: REPLY_ATTEMPTS tries, then the error is raised."""
    attempt = _always(lambda: NetworkError("Bad Gateway"))
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await send(attempt)
    assert attempt.calls == REPLY_ATTEMPTS


async def test_send_does_not_retry_a_bad_request() -> None:
    """A 400 cannot get better by asking again: raised after one try."""
    attempt = _always(lambda: BadRequest("Message text is empty"))
    with pytest.raises(BadRequest):
        await send(attempt)
    assert attempt.calls == 1


async def test_send_does_not_retry_a_refusal() -> None:
    """A 403 (the bot was blocked) is raised after one try."""
    attempt = _always(lambda: Forbidden("bot was blocked by the user"))
    with pytest.raises(Forbidden):
        await send(attempt)
    assert attempt.calls == 1


async def test_send_retries_a_429_up_to_reply_flood_attempts() -> None:
    """Every try refused with 429: REPLY_FLOOD_ATTEMPTS tries, then RetryAfter is raised."""
    attempt = _always(_flood)
    with pytest.raises(RetryAfter):
        await send(attempt)
    assert attempt.calls == REPLY_FLOOD_ATTEMPTS


async def test_429s_do_not_spend_the_network_error_budget() -> None:
    """Floods and failures are counted apart: all but the last of each still end in a reply."""
    floods = [_flood() for _ in range(REPLY_FLOOD_ATTEMPTS - 1)]
    failures = [NetworkError("Bad Gateway") for _ in range(REPLY_ATTEMPTS - 1)]
    attempt = Attempts(*floods, *failures)
    assert await send(attempt) == "sent"
    assert attempt.calls == REPLY_FLOOD_ATTEMPTS + REPLY_ATTEMPTS - 1
