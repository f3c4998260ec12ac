"""PollingRequest: getUpdates answers with unreadable updates reduced to their id, and noted.

``parse_json_payload`` is python-telegram-bot's hook for decoding every answer of the
connection; these tests hand it the bytes Telegram would send.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.tg.polling import PollingRequest

USER = 1001


def _message(update_id: int, *, dated: bool = True) -> dict[str, Any]:
    """A /help update; without ``date`` python-telegram-bot cannot parse it."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "from": {"id": USER, "is_bot": False, "first_name": "Eve"},
        "chat": {"id": USER, "type": "private", "first_name": "Eve"},
        "text": "/help",
    }
    if dated:
        message["date"] = 1_717_452_000
    return {"update_id": update_id, "message": message}


@dataclass
class Polling:
    """The connection under test, and how many answers it noted through ``on_returned``."""

    request: PollingRequest
    returned: int = 0

    def parse(self, answer: dict[str, Any]) -> dict[str, Any]:
        """Hand the connection ``answer`` as Telegram's bytes."""
        return self.request.parse_json_payload(json.dumps(answer).encode())


@pytest.fixture
async def polling() -> AsyncIterator[Polling]:
    rig = Polling(PollingRequest(read_timeout=5.0))

    def note() -> None:
        rig.returned += 1

    rig.request.on_returned = note
    yield rig
    await rig.request.shutdown()


def test_an_unreadable_update_becomes_its_bare_id_and_readable_ones_stay(
    polling: Polling,
) -> None:
    """Between two good updates, an undated message is replaced by {"update_id": N}."""
    good, bad, later = _message(1), _message(2, dated=False), _message(3)
    answer = polling.parse({"ok": True, "result": [good, bad, later]})
    assert answer["result"] == [good, {"update_id": 2}, later]
    assert polling.request.skipped == 1


def test_an_unreadable_update_is_logged_once_by_its_id(
    polling: Polling, caplog: pytest.LogCaptureFixture
) -> None:
    """One warning naming the skipped update and why; none for the readable one."""
    caplog.set_level(logging.WARNING, logger="bot.tg.polling")
    polling.parse({"ok": True, "result": [_message(7), _message(8, dated=False)]})
    [record] = caplog.records
    assert record.getMessage().startswith("skipped update 8: python-telegram-bot cannot read it")


def test_a_successful_list_answer_is_noted(polling: Polling) -> None:
    """Every normal getUpdates answer calls on_returned, an empty list too."""
    polling.parse({"ok": True, "result": [_message(1)]})
    polling.parse({"ok": True, "result": []})
    assert polling.returned == 2


def test_an_error_or_a_non_list_answer_is_not_noted(polling: Polling) -> None:
    """A refusal (409 Conflict) or an answer that is no batch of updates calls nothing."""
    conflict = {"ok": False, "error_code": 409, "description": "Conflict: terminated by other"}
    answers = [polling.parse(conflict), polling.parse({"ok": True, "result": True})]
    assert polling.returned == 0
    assert answers == [conflict, {"ok": True, "result": True}], "passed on as they came"
