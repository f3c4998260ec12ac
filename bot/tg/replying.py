"""How a handler answers, and who may ask: replies that survive floods, and permission checks.

Every reply goes through :func:`send`: a 429 waits (the rate limiter pauses all sending for
``retry_after``) and is retried, a 5xx or timeout is retried a few times, so a passing flood
or hiccup does not lose the answer. In groups only administrators may change what the
group receives (:func:`may_manage`); admin commands check ``telegram.admins``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.present import replies
from bot.tg.formatting import split_html
from bot.tg.runtime import runtime

__all__ = ["Context", "admin_only", "count", "may_manage", "reply", "send", "usage"]

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
#: Tries of one reply after 5xx or timeouts, and after 429s (each waits out retry_after).
REPLY_ATTEMPTS = 3
REPLY_FLOOD_ATTEMPTS = 5
_REPLY_BACKOFF_SECONDS = 0.5

T = TypeVar("T")


async def send(attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()`` until Telegram takes it: 429s wait and retry, 5xx/timeouts retry briefly.

    The limiter has already paused every send for the ``retry_after`` of a 429, so the
    retry simply queues behind that pause. Bad requests and refusals (403) are not retried.
    A timed-out reply may have arrived: a rare duplicate answer beats a lost one.
    """
    floods = failures = 0
    while True:
        try:
            return await attempt()
        except RetryAfter:
            floods += 1
            if floods >= REPLY_FLOOD_ATTEMPTS:
                raise
        except NetworkError as exc:
            if isinstance(exc, BadRequest):
                raise
            failures += 1
            if failures >= REPLY_ATTEMPTS:
                raise
            log.info("reply failed (%s); retrying", exc.message)
            await asyncio.sleep(_REPLY_BACKOFF_SECONDS * failures)


async def reply(update: Update, html: str) -> None:
    """Answer in the update's chat, in as many messages as Telegram's limit needs."""
    await reply_chunks(update, split_html(html) or [replies.EMPTY])


async def reply_chunks(update: Update, chunks: list[str]) -> None:
    """Answer with chunks already split to Telegram's limit, in order."""
    message = update.effective_message
    if message is None:
        return
    for chunk in chunks:
        await send(functools.partial(message.reply_html, chunk, do_quote=False))


async def usage(update: Update, command: str, problem: str = "") -> None:
    """Answer a badly called command with its usage (and what was wrong)."""
    await reply(update, replies.usage(command, problem))


def count(text: str) -> int | None:
    """A plain ASCII whole number of at most six digits, else None.

    ``str.isdigit`` accepts superscripts ("²") that ``int`` refuses, and ``int`` refuses
    strings of thousands of digits: both would crash the handler instead of showing usage.
    """
    if text.isascii() and text.isdecimal() and len(text) <= 6:
        return int(text)
    return None


async def may_manage(update: Update, context: Context) -> bool:
    """In private chats anyone; in groups only administrators (anonymous ones included).

    For a button press the person to check is the presser (``callback_query.from_user``):
    the message carrying the keyboard is the bot's own, so its ``sender_chat`` says nothing
    about who pressed. Only a command *written* on behalf of the group (an anonymous
    administrator's message) is trusted by its ``sender_chat``.
    """
    chat, user = update.effective_chat, update.effective_user
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    query = update.callback_query
    message = update.message if query is None else None
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id  # an anonymous administrator
    if query is not None:
        user = query.from_user
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        log.warning("could not check administrators of chat %s", chat.id)
        return False
    return member.status in {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


async def admin_only(update: Update, context: Context) -> bool:
    """Whether the sender is one of the bot's administrators; if not, says so."""
    user = update.effective_user
    if runtime(context).is_admin(user.id if user else None):
        return True
    await reply(update, replies.ADMINS_ONLY)
    return False
