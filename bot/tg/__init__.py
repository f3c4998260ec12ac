"""The Telegram adapter, named ``tg`` so it never shadows the ``telegram`` library.

``app`` builds and runs the python-telegram-bot Application, ``lifecycle`` starts and stops
the services with it, ``handlers`` answer commands (through ``replying``), ``jobs`` run the
daily job, ``delivery`` drains the outbox (``settling`` records each answer, ``outage``
tells an outage from a failing chat), ``oneshot`` is ``corrbot check``'s delivery pass;
``polling``, ``ratelimit`` and ``formatting`` adapt the transport itself.
"""

import os

# Opt in to python-telegram-bot's future: durations (RetryAfter.retry_after...) as
# timedelta, without the deprecation warning the integer form now emits.
os.environ.setdefault("PTB_TIMEDELTA", "true")
