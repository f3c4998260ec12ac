"""Text made safe for Telegram's HTML parse mode.

Telegram rejects a whole message when a ``<``, ``>`` or ``&`` is left unescaped, so every
user-visible piece of text that goes into HTML passes through :func:`escape`: a label such
as ``S&P <500>``, a negative number or a pair such as ``BTC~PSCT`` can never break parsing.
"""

from __future__ import annotations

import html

__all__ = ["escape"]


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` escaped; quotes left alone (harmless in text, and shorter)."""
    return html.escape(text, quote=False)
