"""The Telegram adapter, named ``tg`` so it never shadows the ``telegram`` library."""

import os

# Opt in to python-telegram-bot's future: durations (RetryAfter.retry_after...) as
# timedelta, without the deprecation warning the integer form now emits.
os.environ.setdefault("PTB_TIMEDELTA", "true")
