"""One pass of deliveries without the running bot, for ``corrbot check`` (cron users).

The same sender as the running bot's, paced by the same limiter, holding the same store
lease: beside a running bot the lease is its, so this pass sends nothing and says so.
"""

from __future__ import annotations

from telegram.error import InvalidToken, NetworkError
from telegram.ext import ExtBot

from bot.compose import Services
from bot.core.errors import ConfigError, CorrbotError
from bot.tg.delivery import sender_for
from bot.tg.ratelimit import PacedRateLimiter
from bot.tg.settling import DrainReport

__all__ = ["DRAIN_SECONDS", "deliver_once"]

#: How long a pass may wait for retries that fall due (a cron run should end).
DRAIN_SECONDS = 300.0


async def deliver_once(services: Services, token: str) -> DrainReport:
    """Deliver what is due (and retries due within :data:`DRAIN_SECONDS`), then stop.

    A rejected token is a configuration error, Telegram out of reach a failure of this run;
    either way the alerts wait in the store and go out at the next run.
    """
    config = services.config
    bot = ExtBot(
        token,
        base_url=config.telegram.api_base_url,
        base_file_url=config.telegram.base_file_url,
        rate_limiter=PacedRateLimiter(per_second=config.delivery.messages_per_second),
    )
    try:
        await bot.initialize()
    except InvalidToken:
        await bot.shutdown()
        raise ConfigError(
            "Telegram rejected the bot token in TELEGRAM_BOT_TOKEN: check it with @BotFather; "
            "the alerts recorded wait in the store and go out at the next run with a good token"
        ) from None
    except NetworkError as exc:
        await bot.shutdown()
        raise CorrbotError(
            f"Telegram could not be reached ({exc.message}); the alerts recorded wait in the "
            "store and go out at the next run"
        ) from None
    async with bot:
        return await sender_for(bot, services).drain(within=DRAIN_SECONDS)
