"""A loopback Telegram Bot API server good enough for the real python-telegram-bot stack.

``telegram.Bot`` and ``telegram.ext.Application`` talk to it unchanged except for the base
URLs, so tests exercise PTB's own request encoding, error mapping (``RetryAfter``,
``Forbidden``, ``ChatMigrated``...) and long polling instead of a mock of them::

    async with FakeTelegram() as server:
        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .build()
        )
        ...
        server.send_command("/corr BTC", chat_id=42, user_id=42)
        [reply] = await server.wait_for_reply(42)

Requests arrive as ``POST /bot<token>/<method>``. PTB 22 sends every parameter as a form
field (``application/x-www-form-urlencoded``, or ``multipart/form-data`` when a file is
uploaded, e.g. ``sendPhoto``), strings verbatim and everything else JSON-encoded; JSON
bodies and GET query strings are accepted too. Answers are ``{"ok": true, "result": ...}``
with objects shaped as the Bot API defines them, or Telegram's error envelope.

Telegram's behaviour is modelled where a bot can trip over it: flood control (30 messages
per second overall, 1 per second per private chat, 20 per minute per group), per-chat
failures (blocked, chat not found, migrated to a supergroup), replies to a message the chat
deleted, HTML that Telegram would not parse, over-long texts, "message is not modified" on
edits, and random 5xx or slow answers drawn from a seeded RNG so that a failing run can be
replayed. Everything is off by default except the validation a real server always does.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

__all__ = [
    "CONFLICT_DESCRIPTION",
    "MESSAGE_METHODS",
    "TOKEN",
    "FakeTelegram",
    "SeenRequest",
    "SentMessage",
]

JSON = dict[str, Any]
ChatType = Literal["private", "group", "supergroup"]
MemberStatus = Literal["creator", "administrator", "member", "left", "kicked"]

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
CONFLICT_DESCRIPTION = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
#: Methods that post or change a message: subject to latency, flood control and faults.
MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}
)
_MESSAGE_METHODS_LOWER = frozenset(m.lower() for m in MESSAGE_METHODS)  # names are case-blind
#: Parameters whose form value is a plain string even when it looks like JSON ("123", "true").
_STRING_PARAMS = frozenset(
    {"text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "url",
     "language_code", "data", "photo"}
)  # fmt: skip
#: HTML tags Telegram accepts with parse_mode=HTML.
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
     "code", "pre", "blockquote", "tg-emoji"}
)  # fmt: skip
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SUPERGROUP_IDS_BELOW = -1_000_000_000_000  # supergroup/channel ids look like -100xxxxxxxxxx
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class _ApiError(Exception):
    """An error answer in Telegram's envelope, raised anywhere inside a method."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return _json(body, status=self.status)


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass
class SeenRequest:
    """One Bot API call as received: ``params`` hold JSON-decoded values, files are apart."""

    method: str
    params: JSON
    time: float  # time.monotonic() on arrival
    files: dict[str, bytes] = field(default_factory=dict)
    http_method: str = "POST"
    status: int = 200  # the HTTP status it was answered with (set once answered)


@dataclass
class SentMessage:
    """A message the fake delivered (``sent``) or changed (``edits``)."""

    method: str
    chat_id: int
    message_id: int
    text: str | None  # the text, or a photo's caption, as the bot sent it (markup included)
    parse_mode: str | None = None
    disable_notification: bool = False
    message_thread_id: int | None = None
    reply_markup: JSON | None = None
    reply_to_message_id: int | None = None  # the message it answers, if it went as a reply
    reply_parameters: JSON | None = None  # as the bot sent them
    photo: bytes | None = None  # uploaded bytes for sendPhoto (None if a file_id/URL was sent)
    time: float = 0.0  # time.monotonic() at delivery


@dataclass
class _ChatFault:
    status: int
    description: str
    parameters: JSON | None = None


class FakeTelegram:
    """Serves one bot's Bot API on 127.0.0.1; see the module docstring.

    Knobs (all keyword arguments are also plain attributes a test may change later):

    * ``max_poll_wait``: getUpdates waits at most this long, whatever ``timeout`` says, so a
      polling Application reacts to ``stop()`` quickly.
    * ``flood_control`` with ``global_rate`` (per rolling second), ``private_rate`` (per
      rolling second and private chat) and ``group_rate`` (per rolling minute and group):
      over the limit, a message is answered 429 with ``retry_after`` and not delivered.
    * ``error_rate`` / ``timeout_rate``: fractions of message methods answered 500/502, or
      held for ``timeout_delay`` seconds (longer than the client's read timeout). A held
      message is delivered first when ``deliver_on_timeout`` (the case where Telegram got the
      message but the client gave up waiting), else dropped. Drawn from ``random.Random(seed)``.
    * ``latency``: seconds added before answering each message method.
    * ``validate_html``: reject parse_mode=HTML text Telegram could not parse.
    """

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_username: str = "corr_test_bot",
        bot_first_name: str = "Corr Test Bot",
        seed: int = 0,
        max_poll_wait: float = 1.0,
        flood_control: bool = False,
        global_rate: int = 30,
        private_rate: int = 1,
        group_rate: int = 20,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        timeout_delay: float = 2.0,
        deliver_on_timeout: bool = False,
        latency: float = 0.0,
        validate_html: bool = True,
        default_member_status: MemberStatus = "member",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.rng = random.Random(seed)
        self.max_poll_wait = max_poll_wait
        self.flood_control = flood_control
        self.global_rate = global_rate
        self.private_rate = private_rate
        self.group_rate = group_rate
        self.error_rate = error_rate
        self.timeout_rate = timeout_rate
        self.timeout_delay = timeout_delay
        self.deliver_on_timeout = deliver_on_timeout
        self.latency = latency
        self.validate_html = validate_html
        self.default_member_status: MemberStatus = default_member_status
        self.conflict = False  # getUpdates answers 409 while True
        #: While set (502 or 504), every request is answered with that gateway error page,
        #: getMe included: Telegram's front end up, the API behind it down (a 5xx storm).
        self.gateway_down: int | None = None
        #: While True every request's connection is closed unanswered, keep-alive ones too
        #: (with go_offline, new connections are refused as well): Telegram unreachable.
        self.hang_up = False

        # What happened, for assertions.
        self.requests: list[SeenRequest] = []
        self.sent: list[SentMessage] = []
        self.edits: list[SentMessage] = []
        self.rejected_429 = 0
        self.offered_at: dict[int, float] = {}  # update_id -> monotonic time it was offered
        self.fetched_at: dict[int, float] = {}  # update_id -> first time getUpdates returned it

        # Telegram's state.
        self.chats: dict[int, JSON] = {}
        self.users: dict[int, JSON] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self.deleted: set[tuple[int, int]] = set()  # (chat_id, message_id) no longer there
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.member_status: dict[tuple[int, int], MemberStatus] = {}
        self._pending: list[JSON] = []  # offered, not yet confirmed updates
        self._update_ids = itertools.count(10_000)
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._chat_faults: dict[int, _ChatFault] = {}
        self._burst: list[int] = []  # retry_after of each queued burst_429 answer
        self._burst_5xx = 0  # message methods still to answer 500 (burst_5xx)
        self._site: web.TCPSite | None = None  # None while offline (go_offline)
        self._global_sends: deque[float] = deque()
        self._chat_sends: dict[int, deque[float]] = {}
        self._reply_cursor: dict[int, int] = {}

        self._wakeup = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._methods: dict[str, Callable[[JSON, dict[str, bytes]], Awaitable[Any] | Any]] = {
            "getme": lambda _p, _f: self.bot_user(full=True),
            "deletewebhook": self._delete_webhook,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getchatmember": self._get_chat_member,
            "getchat": self._get_chat,
            "getchatadministrators": self._get_chat_administrators,
            "close": lambda _p, _f: True,
            "logout": lambda _p, _f: True,
        }

    # ---- life cycle ----------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # Long polls and held answers end at once on stop(); don't wait 60 s for stragglers.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop listening; requests still waiting (long polls, delays) are answered at once."""
        self._closing.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """What to pass as ``base_file_url`` (no file downloads are served)."""
        return f"http://127.0.0.1:{self._port}/file/bot"

    # ---- knobs for tests -----------------------------------------------------------------

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: 403 on every call naming the chat."""
        self._chat_faults[chat_id] = _ChatFault(403, "Forbidden: bot was blocked by the user")

    def chat_not_found(self, chat_id: int) -> None:
        """The chat is unknown to Telegram (deleted, or never talked to the bot)."""
        self._chat_faults[chat_id] = _ChatFault(400, "Bad Request: chat not found")

    def migrate(self, chat_id: int, new_id: int) -> None:
        """The group was upgraded: calls to the old id name the new supergroup id."""
        self._chat_faults[chat_id] = _ChatFault(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": new_id},
        )

    def bad_request(self, chat_id: int, description: str) -> None:
        """Answer calls naming the chat with ``400 Bad Request: <description>``."""
        self._chat_faults[chat_id] = _ChatFault(400, f"Bad Request: {description}")

    def clear_fault(self, chat_id: int) -> None:
        """Undo :meth:`block`, :meth:`chat_not_found`, :meth:`migrate`, :meth:`bad_request`."""
        self._chat_faults.pop(chat_id, None)

    def burst_429(self, count: int, retry_after: int = 1) -> None:
        """Answer the next ``count`` message methods with 429 (and deliver nothing)."""
        self._burst.extend([retry_after] * count)

    def set_member_status(self, chat_id: int, user_id: int, status: MemberStatus) -> None:
        """What getChatMember / getChatAdministrators report for the user in the chat."""
        self.member_status[chat_id, user_id] = status

    # ---- polling and reply faults (tests/test_faults_polling.py) -------------------------

    def burst_5xx(self, count: int) -> None:
        """Answer the next ``count`` message methods with 500 (and deliver nothing)."""
        self._burst_5xx += count

    async def go_offline(self) -> None:
        """Stop listening on the port: connections are refused, as when Telegram is down."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def go_online(self) -> None:
        """Listen on the same port again after :meth:`go_offline`."""
        if self._site is None and self._runner is not None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self._port)
            await self._site.start()

    # ---- offering updates ----------------------------------------------------------------

    def offer_update(self, update: JSON) -> int:
        """Queue a raw Update for getUpdates (``update_id`` is filled in when absent)."""
        update.setdefault("update_id", next(self._update_ids))
        update_id: int = update["update_id"]
        self.offered_at[update_id] = time.monotonic()
        for key in ("message", "callback_query"):
            chat = _get_chat_id(update.get(key))
            if chat is not None:
                self._reply_cursor[chat] = len(self.sent)  # earlier messages are old news
        self._pending.append(update)
        self._notify()
        return update_id

    def send_command(
        self,
        text: str,
        *,
        chat_id: int | None = None,
        user_id: int = 1001,
        chat_type: ChatType | None = None,
        message_thread_id: int | None = None,
        is_topic_message: bool = False,
        username: str | None = "alice",
        first_name: str = "Alice",
        title: str | None = None,
    ) -> int:
        """A user writes ``text`` (e.g. ``/corr@bot BTC``); returns the update_id.

        ``chat_id`` defaults to the user's private chat; ``chat_type`` defaults to what the id
        says (positive: private, -100...: supergroup, other negative: group). A leading
        ``/command`` gets its ``bot_command`` entity, which PTB's CommandHandler needs.
        """
        user = self._user(user_id, username=username, first_name=first_name)
        chat = self._chat(chat_id if chat_id is not None else user_id, chat_type, title=title)
        if chat["type"] == "private":
            chat.update({k: v for k, v in user.items() if k in ("first_name", "username")})
        message: JSON = {
            "message_id": self._next_message_id(chat["id"]),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            if is_topic_message:
                message["is_topic_message"] = True
                chat["is_forum"] = True
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        self.messages[chat["id"], message["message_id"]] = message
        return self.offer_update({"message": message})

    def press_button(
        self,
        data: str,
        *,
        chat_id: int,
        message_id: int,
        user_id: int | None = None,
        chat_type: ChatType | None = None,
        username: str | None = "alice",
        first_name: str = "Alice",
    ) -> int:
        """A user presses an inline button carrying ``data`` under the bot's message.

        The query carries the message as stored (or a stand-in if the bot never sent it);
        returns the update_id. ``user_id`` defaults to the private chat's user.
        """
        user_id = user_id if user_id is not None else chat_id
        user = self._user(user_id, username=username, first_name=first_name)
        stored = self.messages.get((chat_id, message_id))
        # A snapshot: later edits must not change an update already offered.
        message = json.loads(json.dumps(stored)) if stored is not None else None
        if message is None:
            message = {
                "message_id": message_id,
                "from": self.bot_user(),
                "chat": self._chat(chat_id, chat_type),
                "date": int(time.time()),
                "text": "...",
            }
        query_id = str(next(self._callback_ids) * 7_919_000_000_001)
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(-abs(chat_id) * 31 - 7),
            "data": data,
        }
        return self.offer_update({"callback_query": query})

    # ---- assertions helpers --------------------------------------------------------------

    @property
    def pending_updates(self) -> list[JSON]:
        """Offered updates the bot has not confirmed yet (via a later getUpdates offset)."""
        return list(self._pending)

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """Messages delivered to the chat, oldest first."""
        return [m for m in self.sent if m.chat_id == chat_id]

    def calls(self, method: str) -> list[SeenRequest]:
        """Requests received for a Bot API method (case-insensitive), oldest first."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    async def wait_for_reply(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, by design
    ) -> list[SentMessage]:
        """Wait until ``count`` new messages were sent to the chat and return them.

        "New" means sent since the last update offered in that chat or the last message an
        earlier call returned, so a reply that arrives before the test awaits is not missed.
        Raises ``TimeoutError`` naming what did arrive.
        """
        deadline = time.monotonic() + timeout
        while True:
            start = self._reply_cursor.get(chat_id, 0)
            fresh = [(i, m) for i, m in enumerate(self.sent[start:], start) if m.chat_id == chat_id]
            if len(fresh) >= count:
                self._reply_cursor[chat_id] = fresh[count - 1][0] + 1
                return [m for _, m in fresh[:count]]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                texts = [m.text for _, m in fresh]
                raise TimeoutError(
                    f"{count} message(s) to chat {chat_id} expected within {timeout} s, got {texts}"
                )
            wakeup = self._wakeup
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)

    def bot_user(self, *, full: bool = False) -> JSON:
        """The bot as a User; ``full`` adds the fields only getMe returns."""
        user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }
        if full:
            user.update(
                can_join_groups=True,
                can_read_all_group_messages=False,
                supports_inline_queries=False,
                can_connect_to_business=False,
                has_main_web_app=False,
            )
        return user

    # ---- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files = await _read_params(request)
        seen = SeenRequest(method, params, time.monotonic(), files, request.method)
        self.requests.append(seen)
        if self.hang_up and request.transport is not None:
            request.transport.close()
            seen.status = 0
            return web.Response(status=503)  # never reaches the client: the line is down
        try:
            if self.gateway_down is not None:
                raise _RawAnswer(_gateway_error(self.gateway_down))
            if request.match_info["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise _ApiError(404, "Not Found")
            chat_id = _as_int(params.get("chat_id"))
            fault = self._chat_faults.get(chat_id) if chat_id is not None else None
            if fault is not None:
                raise _ApiError(fault.status, fault.description, fault.parameters)
            if method.lower() in _MESSAGE_METHODS_LOWER:
                result = await self._misbehave(handler, params, files)
            else:
                result = handler(params, files)
                if asyncio.iscoroutine(result):
                    result = await result
        except _ApiError as exc:
            seen.status = exc.status
            if exc.status == 429:
                self.rejected_429 += 1
            return exc.response()
        except _RawAnswer as answer:
            seen.status = answer.response.status
            return answer.response
        return _json({"ok": True, "result": result})

    async def _misbehave(
        self, handler: Callable[..., Any], params: JSON, files: dict[str, bytes]
    ) -> Any:
        """Latency, burst 429s, random faults and flood control, then the method itself."""
        if self.latency:
            await self._sleep(self.latency)
        if self._burst:
            retry_after = self._burst.pop(0)
            raise _too_many(retry_after)
        if self._burst_5xx:
            self._burst_5xx -= 1
            raise _ApiError(500, "Internal Server Error")
        draw = self.rng.random()
        if draw < self.error_rate:
            if self.rng.random() < 0.5:
                raise _ApiError(500, "Internal Server Error")
            raise _RawAnswer(
                web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
            )
        if draw < self.error_rate + self.timeout_rate:
            result = handler(params, files) if self.deliver_on_timeout else None
            await self._sleep(self.timeout_delay)
            if result is None:
                raise _ApiError(500, "Internal Server Error")
            return result
        return handler(params, files)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _notify(self) -> None:
        """Wake every long poll and wait_for_reply (they re-check their condition)."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    # ---- flood control -------------------------------------------------------------------

    def _check_flood(self, chat_id: int) -> None:
        """Raise 429 when one more message to the chat would break Telegram's limits."""
        if not self.flood_control:
            return
        now = time.monotonic()
        window, limit = (1.0, self.private_rate) if chat_id > 0 else (60.0, self.group_rate)
        for times, span, most in (
            (self._global_sends, 1.0, self.global_rate),
            (self._chat_sends.setdefault(chat_id, deque()), window, limit),
        ):
            while times and times[0] <= now - span:
                times.popleft()
            if len(times) >= most:
                raise _too_many(max(1, math.ceil(times[0] + span - now)))

    def _count_send(self, chat_id: int) -> None:
        now = time.monotonic()
        self._global_sends.append(now)
        self._chat_sends.setdefault(chat_id, deque()).append(now)

    # ---- Bot API methods -----------------------------------------------------------------

    def _delete_webhook(self, params: JSON, _files: dict[str, bytes]) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_updates(self, params: JSON, _files: dict[str, bytes]) -> list[JSON]:
        """Long polling: confirm up to ``offset``, then wait (capped) for something to return."""
        if self.conflict:
            raise _ApiError(409, CONFLICT_DESCRIPTION)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), self.max_poll_wait)
        while not self._pending and not self._closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wakeup = self._wakeup
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)
            if self.conflict:
                raise _ApiError(409, CONFLICT_DESCRIPTION)
        batch = self._pending[:limit]
        now = time.monotonic()
        for update in batch:
            self.fetched_at.setdefault(update["update_id"], now)
        return batch

    def _send_message(self, params: JSON, _files: dict[str, bytes]) -> JSON:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        plain = self._plain_text(text, params.get("parse_mode"))
        if _utf16_len(plain) > _MAX_TEXT:
            raise _bad_request("message is too long")
        return self._deliver("sendMessage", params, {"text": plain}, text, None)

    def _send_photo(self, params: JSON, files: dict[str, bytes]) -> JSON:
        upload = files.get("photo")
        reference = params.get("photo")
        if upload is None and not reference:
            raise _bad_request("there is no photo in the request")
        caption = params.get("caption")
        extra: JSON = {}
        if caption:
            plain = self._plain_text(caption, params.get("parse_mode"))
            if _utf16_len(plain) > _MAX_CAPTION:
                raise _bad_request("message caption is too long")
            extra["caption"] = plain
        width, height = _png_size(upload) if upload else (800, 600)
        unique = f"{len(self.sent) + 1}"
        extra["photo"] = [
            {
                "file_id": f"AgACAgIAAxk{unique}{side}",
                "file_unique_id": f"AQAD{unique}{side}",
                "width": round(width * scale),
                "height": round(height * scale),
                "file_size": round(len(upload or b"x" * 50_000) * scale * scale),
            }
            for side, scale in (("s", min(1.0, 90 / max(width, height))), ("x", 1.0))
        ]
        return self._deliver("sendPhoto", params, extra, caption, upload)

    def _deliver(
        self, method: str, params: JSON, content: JSON, raw_text: str | None, photo: bytes | None
    ) -> JSON:
        """Store and record a new bot message after the flood check; return it as a Message."""
        chat = self._chat_for(params)
        self._check_flood(chat["id"])
        reply_to = self._reply_target(chat["id"], params)
        message: JSON = {
            "message_id": self._next_message_id(chat["id"]),
            "from": self.bot_user(),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        thread_id = params.get("message_thread_id")
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        replied = self.messages.get((chat["id"], reply_to)) if reply_to is not None else None
        if replied is not None:
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        parameters = params.get("reply_parameters")
        self.messages[chat["id"], message["message_id"]] = message
        self._count_send(chat["id"])
        self.sent.append(
            SentMessage(
                method=method,
                chat_id=chat["id"],
                message_id=message["message_id"],
                text=raw_text,
                parse_mode=params.get("parse_mode"),
                disable_notification=bool(params.get("disable_notification", False)),
                message_thread_id=thread_id,
                reply_markup=markup if isinstance(markup, dict) else None,
                reply_to_message_id=reply_to,
                reply_parameters=parameters if isinstance(parameters, dict) else None,
                photo=photo,
                time=time.monotonic(),
            )
        )
        self._notify()
        return message

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """Someone in the chat deletes the message: replies to it find nothing to answer."""
        self.messages.pop((chat_id, message_id), None)
        self.deleted.add((chat_id, message_id))

    def _delete_message(self, params: JSON, _files: dict[str, bytes]) -> bool:
        chat = self._chat_for(params)
        message_id = _as_int(params.get("message_id"))
        if message_id is None or (chat["id"], message_id) not in self.messages:
            raise _bad_request("message to delete not found")
        self.delete_message(chat["id"], message_id)
        return True

    def _reply_target(self, chat_id: int, params: JSON) -> int | None:
        """The message a new one answers: none if it was deleted and the bot allows that.

        Telegram refuses a reply to a deleted message unless ``allow_sending_without_reply``
        (in ``reply_parameters`` or, in older clients, on its own), then sends it plainly.
        """
        reply = params.get("reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        target = params.get("reply_to_message_id")
        target = _as_int(reply.get("message_id") if target is None else target)
        if target is None or (chat_id, target) not in self.deleted:
            return target
        if reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply")):
            return None
        raise _bad_request("message to be replied not found")

    def _editable(self, params: JSON) -> JSON:
        if params.get("inline_message_id"):
            raise _bad_request("inline messages are not supported by the fake")
        chat = self._chat_for(params)
        message_id = _as_int(params.get("message_id"))
        message = self.messages.get((chat["id"], message_id)) if message_id is not None else None
        if message is None:
            raise _bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise _bad_request("message can't be edited")
        return message

    def _edit_message_text(self, params: JSON, _files: dict[str, bytes]) -> JSON:
        message = self._editable(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        plain = self._plain_text(text, params.get("parse_mode"))
        if _utf16_len(plain) > _MAX_TEXT:
            raise _bad_request("message is too long")
        return self._edit("editMessageText", message, params, {"text": plain}, text)

    def _edit_message_reply_markup(self, params: JSON, _files: dict[str, bytes]) -> JSON:
        message = self._editable(params)
        return self._edit("editMessageReplyMarkup", message, params, {}, None)

    def _edit(
        self, method: str, message: JSON, params: JSON, content: JSON, raw_text: str | None
    ) -> JSON:
        """Apply an edit; Telegram refuses one that changes nothing."""
        markup = params.get("reply_markup")
        new_markup = markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None
        unchanged = all(message.get(k) == v for k, v in content.items())
        if unchanged and message.get("reply_markup") == new_markup:
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        self._check_flood(message["chat"]["id"])
        message.update(content)
        message["edit_date"] = int(time.time())
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        self._count_send(message["chat"]["id"])
        self.edits.append(
            SentMessage(
                method=method,
                chat_id=message["chat"]["id"],
                message_id=message["message_id"],
                text=raw_text,
                parse_mode=params.get("parse_mode"),
                reply_markup=markup if isinstance(markup, dict) else None,
                time=time.monotonic(),
            )
        )
        return message

    def _answer_callback_query(self, params: JSON, _files: dict[str, bytes]) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self._open_callbacks:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._open_callbacks.discard(query_id)
        return True

    def _set_my_commands(self, params: JSON, _files: dict[str, bytes]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        for command in commands:
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_commands_key(params)] = commands
        return True

    def _get_my_commands(self, params: JSON, _files: dict[str, bytes]) -> list[JSON]:
        return self.commands.get(_commands_key(params), [])

    def _delete_my_commands(self, params: JSON, _files: dict[str, bytes]) -> bool:
        self.commands.pop(_commands_key(params), None)
        return True

    def _get_chat(self, params: JSON, _files: dict[str, bytes]) -> JSON:
        chat = self._chat_for(params)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, params: JSON, _files: dict[str, bytes]) -> JSON:
        chat = self._chat_for(params)
        user_id = _as_int(params.get("user_id"))
        if user_id is None:
            raise _bad_request("invalid user_id specified")
        return self._member(chat["id"], user_id)

    def _get_chat_administrators(self, params: JSON, _files: dict[str, bytes]) -> list[JSON]:
        chat = self._chat_for(params)
        if chat["type"] == "private":
            raise _bad_request("there are no administrators in the private chat")
        return [
            self._member(chat_id, user_id)
            for (chat_id, user_id), status in self.member_status.items()
            if chat_id == chat["id"] and status in ("creator", "administrator")
        ]

    # ---- state helpers -------------------------------------------------------------------

    def _member(self, chat_id: int, user_id: int) -> JSON:
        status = self.member_status.get((chat_id, user_id), self.default_member_status)
        user = self.bot_user() if user_id == self.bot_id else self._user(user_id)
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                dict.fromkeys(_ADMIN_RIGHTS, True), is_anonymous=False, can_be_edited=False
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _user(
        self, user_id: int, *, username: str | None = None, first_name: str | None = None
    ) -> JSON:
        user = self.users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        user.setdefault("language_code", "en")
        return user

    def _chat(
        self, chat_id: int, chat_type: ChatType | None = None, *, title: str | None = None
    ) -> JSON:
        """The chat object for an id, created on first sight with the type the id implies."""
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_type is None:
                chat_type = (
                    "private" if chat_id > 0
                    else "supergroup" if chat_id < _SUPERGROUP_IDS_BELOW
                    else "group"
                )  # fmt: skip
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = self._user(chat_id)["first_name"]
            else:
                chat["title"] = f"Chat {chat_id}"
            self.chats[chat_id] = chat
        elif chat_type is not None:
            chat["type"] = chat_type
        if title and chat["type"] != "private":
            chat["title"] = title
        return chat

    def _chat_for(self, params: JSON) -> JSON:
        raw = params.get("chat_id")
        chat_id = _as_int(raw)
        if chat_id is None:
            by_name = [c for c in self.chats.values() if f"@{c.get('username')}" == raw]
            if not by_name:
                raise _bad_request("chat not found")
            return by_name[0]
        return self._chat(chat_id)

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _plain_text(self, text: str, parse_mode: Any) -> str:
        """The text Telegram shows: entity markup removed, or 400 if it cannot be parsed."""
        if parse_mode == "HTML" and self.validate_html:
            return _html_to_plain(text)
        return text


class _RawAnswer(Exception):  # noqa: N818 - control flow, not an error
    """Answer with this exact response (e.g. nginx's HTML 502) instead of the result."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


_ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories", "can_pin_messages", "can_manage_topics",
)  # fmt: skip


def _gateway_error(status: int) -> web.Response:
    """The nginx error page of a 502 or 504, as Telegram's front end answers in an outage."""
    page = _BAD_GATEWAY_HTML.replace("502 Bad Gateway", f"{status} Gateway Error")
    return web.Response(status=status, text=page, content_type="text/html")


def _too_many(retry_after: int) -> _ApiError:
    return _ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def _html_to_plain(text: str) -> str:
    """Strip Telegram-HTML to its plain text, raising the 400 Telegram gives for bad markup."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while (lt := text.find("<", pos)) >= 0:
        out.append(text[pos:lt])
        offset = len(text[:lt].encode())
        match = _TAG_RE.match(text, lt)
        name = match.group(2).lower() if match else ""
        if match is None or name not in _HTML_TAGS:
            raise _bad_request(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}'
            )
        if match.group(1):
            if not stack or stack[-1] != name:
                raise _bad_request(
                    f"can't parse entities: Unexpected end tag at byte offset {offset}"
                )
            stack.pop()
        else:
            stack.append(name)
        pos = match.end()
    out.append(text[pos:])
    if stack:
        raise _bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return html.unescape("".join(out))


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, bytes]]:
    """Parameters of a Bot API call in any encoding Telegram accepts, values JSON-decoded."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            raw.update(await request.json())
        else:
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[name] = value.file.read()
                    value.file.close()
                else:
                    raw[name] = value
    return {name: _decode(name, value) for name, value in raw.items()}, files


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _commands_key(params: JSON) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _get_chat_id(obj: Any) -> int | None:
    if not isinstance(obj, dict):
        return None
    if "chat" in obj:
        return _as_int(obj["chat"].get("id"))
    return _get_chat_id(obj.get("message"))


def _utf16_len(text: str) -> int:
    """Length as Telegram counts it (entity offsets and limits are in UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG (what Telegram would report), else a plausible default."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 800, 600


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(payload), content_type="application/json")
