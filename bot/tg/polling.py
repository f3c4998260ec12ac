"""The getUpdates connection, hardened where python-telegram-bot's Updater would wedge.

An update PTB cannot parse is skipped (logged once, its ``update_id`` confirmed) instead of
being fetched again in a busy loop, and every normal answer is noted, so ``corrbot health``
can tell a live poller from a merely beating heartbeat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest

__all__ = ["PollingRequest"]

log = logging.getLogger(__name__)


class PollingRequest(HTTPXRequest):
    """The getUpdates connection: skips updates PTB cannot parse and notes normal answers.

    PTB's Updater logs an update it cannot parse (a ``message`` without ``date``, say) and
    asks again with the same offset, so Telegram returns the same update at once, forever: a
    busy loop in which no command is answered. Here each update is test-parsed; one that
    fails is replaced by its bare ``{"update_id": N}`` (which no handler matches), so the
    Updater confirms it with its next offset and it is logged exactly once.
    ``on_returned`` is called after every answer that came back normally.
    """

    def __init__(self, *, read_timeout: float) -> None:
        super().__init__(connection_pool_size=1, read_timeout=read_timeout)
        self.on_returned: Callable[[], None] | None = None
        self.skipped = 0

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """Telegram's answer, with unparsable updates reduced to their ``update_id``.

        PTB's documented hook for decoding answers; this request serves only getUpdates,
        so a successful answer whose result is a list is a batch of updates.
        """
        answer = super().parse_json_payload(payload)
        result = answer.get("result")
        if answer.get("ok") and isinstance(result, list):
            answer["result"] = [self._readable(item) for item in result]
            if self.on_returned is not None:
                self.on_returned()
        return answer

    def _readable(self, item: Any) -> Any:
        try:
            Update.de_json(item, None)
        except Exception as exc:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            self.skipped += 1
            log.warning(
                "skipped update %s: python-telegram-bot cannot read it (%s: %s)",
                update_id,
                type(exc).__name__,
                exc,
            )
            if isinstance(update_id, int):
                return {"update_id": update_id}
            raise
        return item
