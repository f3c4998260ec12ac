"""The alert rules, one module each, and the one place they are registered.

A rule turns a pair's histories into :class:`~bot.core.rules.base.RuleEvent` values,
vectorized over many histories at once (the live one, or a thousand null ones in
``corrbot calibrate``). Each module holds its settings (the product's defaults), its scan,
the words it uses and the chat setting that governs it:

* :mod:`~bot.core.rules.shift` - a significant change in correlation: opens an episode and
  notifies (``spike`` up, ``decoupling`` down); ``settled`` when the change has run its course.
* :mod:`~bot.core.rules.regime` - the band the correlation sits in: a silent follow-up inside
  an episode, never a notification of its own.

Adding a rule: a module with ``NAME``, ``SETTING``, ``KINDS``, a settings class, ``run()`` and
its words, a field of that name in :class:`bot.core.engine.AlertSettings`, and a line here.
"""

from __future__ import annotations

from bot.core.models import AlertKind
from bot.core.rules import regime, shift

__all__ = ["RULES", "SETTING_FOR"]

#: The rules, in the order their events of one session are told.
RULES = (shift, regime)

#: Which per-chat setting governs which kind of alert (a column of the ``chats`` table).
SETTING_FOR: dict[AlertKind, str] = {kind: rule.SETTING for rule in RULES for kind in rule.KINDS}
