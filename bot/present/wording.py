"""The words subscribers read, plugged into the core's :class:`~bot.core.message.Wording` seam.

The core records each alert together with its message in one transaction; the composition
root hands it this object so the core never imports the presentation.
"""

from __future__ import annotations

from bot.core.message import Message
from bot.core.models import Alert
from bot.core.snapshot import Snapshot
from bot.present.alerts import alert_message
from bot.present.corr import snapshot_message

__all__ = ["SubscriberWording"]


class SubscriberWording:
    """The words subscribers read, as the core's :class:`~bot.core.message.Wording` seam wants."""

    def alert(self, alert: Alert, context: Snapshot | None) -> Message:
        """The alert's message, with the numbers of its session around it."""
        return alert_message(alert, context)

    def digest(self, snapshot: Snapshot) -> Message:
        """The daily digest: the ``/corr`` reply for the first crypto."""
        return snapshot_message(snapshot)
