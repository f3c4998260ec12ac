"""The words the core records with each alert and digest (bot.present.wording)."""

from __future__ import annotations

from bot.core.message import Wording
from bot.present.alerts import alert_message
from bot.present.corr import snapshot_message
from bot.present.wording import SubscriberWording
from tests.fakes.messages import EVERY_KIND, hand_made_snapshot


def test_the_alert_wording_is_the_alert_message_with_its_snapshot() -> None:
    """Every kind of alert is worded as alert_message words it, with the day's numbers."""
    wording: Wording = SubscriberWording()
    context = hand_made_snapshot()
    for alert in EVERY_KIND.values():
        assert wording.alert(alert, context) == alert_message(alert, context)
    spike = EVERY_KIND["spike"]
    assert wording.alert(spike, None) == alert_message(spike, None)


def test_the_digest_is_the_corr_reply_for_the_first_crypto() -> None:
    """The daily digest is /corr for the headline crypto, not for any other."""
    snapshot = hand_made_snapshot()
    digest = SubscriberWording().digest(snapshot)
    assert digest == snapshot_message(snapshot, "BTC")
    assert digest != snapshot_message(snapshot, "ETH")
