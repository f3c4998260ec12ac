"""Fuzzing chat commands through the real handlers of one running bot.

How: starting the bot takes seconds, so ONE bot (``tests.fakes.bot_harness.running_bot``, the real
``run_bot`` against the fake Bot API) is started per module, in a background thread that owns
its event loop. Each test is a plain synchronous function holding a ``@given`` property;
every example hands one coroutine to the bot's loop (``asyncio.run_coroutine_threadsafe``)
that offers a single command update and waits until the Application has finished handling it,
so examples run one after another against the same live bot and hypothesis can still shrink a
failing input. "Finished" is known exactly: a ``TypeHandler`` in handler group 1 (added by
wrapping ``build_application``) runs after the group-0 command handler returned and after any
error handler ran. Each example writes from a chat id never used before, so the bot's per-chat
pacing (1 s per private chat, 3 s per group) never slows the run and no example sees another's
state. Generation is derandomized (``derandomize=True``, no example database), bounded by
``max_examples`` and has no deadline, so the run is the same every time.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import re
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

import bot.tg.app as app_module
from bot.tg.formatting import utf16_len
from tests.fakes.bot_harness import RunningBot, running_bot, until
from tests.fakes.telegram_api import MESSAGE_METHODS, SentMessage

BOT_USERNAME = "corr_test_bot"
KNOWN = (
    "start",
    "subscribe",
    "stop",
    "unsubscribe",
    "corr",
    "chart",
    "alerts",
    "settings",
    "help",
    "about",
    "status",
    "runnow",
)
WINDOWS = (30, 90)
CRYPTO = ("BTC", "ETH")
MAX_TEXT = 4096
EXAMPLES = 80
FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ChatKind = Literal["private", "group", "supergroup"]

# ---------------------------------------------------------------------------- the bot


@dataclass
class Exchange:
    """What one command produced: the replies in its chat and every request meanwhile."""

    replies: list[SentMessage]
    rejected: list[str]  # message-method requests answered with an HTTP error


class BotThread:
    """The running bot in its own thread and event loop; :meth:`call` runs coroutines there."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.handled: set[int] = set()
        self.failure: BaseException | None = None
        self.exit_status: int | None = None
        self._stop: asyncio.Event | None = None
        self._bot: RunningBot | None = None
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._main, name="fuzz-bot", daemon=True)

    @property
    def bot(self) -> RunningBot:
        """The running bot (harness view: server, store, config)."""
        assert self._bot is not None, f"the bot did not start: {self.failure!r}"
        return self._bot

    def start(self) -> None:
        """Start the thread and wait for the bot's first computation."""
        self._thread.start()
        assert self.started.wait(90), "the bot did not start within 90 s"
        assert self.failure is None, f"the bot did not start: {self.failure!r}"

    def stop(self) -> None:
        """Stop the bot as SIGTERM would and join the thread."""
        if self._stop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 90.0) -> Any:
        """Run ``coro`` in the bot's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def mark_handled(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Group-1 handler: the group-0 handler (and any error handler) is done."""
        if isinstance(update, Update):
            self.handled.add(update.update_id)

    def fresh_chat(self, kind: ChatKind) -> tuple[int, int]:
        """A chat id and a user id never used before in this run."""
        n = next(self._ids)
        user = 50_000_000 + n
        if kind == "private":
            return user, user
        if kind == "group":
            return -(7_000_000 + n), user
        return -(1_009_000_000_000 + n), user

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()/the tests, not lost in the thread
            self.failure = exc
        finally:
            self.started.set()
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with running_bot(self.tmp_path) as bot:
            self._bot = bot
            self.started.set()
            await self._stop.wait()
            self.exit_status = await bot.finish()

    async def exchange(
        self,
        text: str,
        *,
        kind: ChatKind,
        member: str = "member",
        subscribed: bool = False,
    ) -> Exchange:
        """Offer ``text`` from a fresh chat of ``kind``; wait until it was handled."""
        chat_id, user_id = self.fresh_chat(kind)
        server = self.bot.server
        if kind != "private":
            server.set_member_status(chat_id, user_id, member)  # type: ignore[arg-type]
        if subscribed:
            self.bot.store.subscribers.subscribe(
                chat_id, kind=kind, title="fuzz", thread_id=None, now=self.bot.clock()
            )
        first_request, first_sent = len(server.requests), len(server.sent)
        update_id = server.send_command(text, chat_id=chat_id, user_id=user_id, chat_type=kind)
        await until(lambda: update_id in self.handled, 60, f"update {update_id} handled")
        rejected = [
            f"{r.method} -> {r.status}: {r.params.get('text') or r.params.get('caption')!r:.200}"
            for r in server.requests[first_request:]
            if r.method in MESSAGE_METHODS and r.status >= 400
        ]
        replies = [m for m in server.sent[first_sent:] if m.chat_id == chat_id]
        return Exchange(replies, rejected)


@pytest.fixture(scope="module")
def fuzz_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotThread]:
    """One bot for the whole module, with a marker handler that says when an update is done."""
    runner = BotThread(tmp_path_factory.mktemp("fuzz-bot"))
    original = app_module.build_application

    def build_with_marker(*args: Any, **kwargs: Any) -> Any:
        application = original(*args, **kwargs)
        application.add_handler(TypeHandler(Update, runner.mark_handled), group=1)
        return application

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_module, "build_application", build_with_marker)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            patch.delenv(name, raising=False)
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        runner.start()
        try:
            yield runner
        finally:
            runner.stop()
    assert runner.failure is None, f"the bot thread failed: {runner.failure!r}"
    assert runner.exit_status == 0


# ---------------------------------------------------------------------------- inputs

INJECTIONS = (
    "<b>",
    "</pre>",
    "<pre>",
    "</b></i>",
    "&amp;",
    "&",
    "<",
    ">",
    "&lt;b&gt;",
    "&#x3C;",
    "&#99999999;",
    '<a href="https://example.com">x</a>',
    "<a href='javascript:alert(1)'>",
    "<script>alert(1)</script>",
    "<tg-spoiler>",
    "*bold*",
    "_it_",
    "`code`",
    "```pre```",
    "[link](https://example.com)",
    "||spoiler||",
    "\\",
    "%s%s%n",
    "{0}{}",
    "${jndi:ldap://127.0.0.1/x}",
    "../../etc/passwd",
)
SQL = (
    "'; DROP TABLE chats; --",
    "spikes'; DROP TABLE chats; --",
    "1; DELETE FROM chats",
    "' OR '1'='1",
    '" OR 1=1 --',
    "Robert'); DROP TABLE deliveries;--",
    "1 UNION SELECT sql FROM sqlite_master",
    "off'; UPDATE chats SET spikes='off' WHERE '1'='1",
    "'); ATTACH DATABASE '/tmp/x' AS x; --",
)
ODD = (
    "\u202e",  # right-to-left override
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",
    "\u2066\u2069",
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "🏳️\u200d🌈",
    "עברית",
    "مرحبا",
    "İ",
    "ß",
    "ﬃ",
    "e\u0301",
    "\x01",
    "\x1b[31m",
    "\x7f",
    "\u0085",
    "\r",
    "\ud7ff",
)
WORDS = (
    "btc",
    "BTC",
    "eth",
    "doge",
    "spikes",
    "regimes",
    "digest",
    "SPIKES",
    "on",
    "off",
    "silent",
    "OFF",
    "loud",
)
NUMBER_WORDS = (
    "0", "-1", "20", "21", "1", "5", "30", "90", "10", "500", "1e3", "0x1f", "+5", "0030",
    "\u0663", "\u0663\u0660", "\uff10", "1_000", "nan", "inf", "-inf", "1.5", "-0",
    "\u096f\u0966",
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=-5, max_value=120).map(str),
    st.floats().map(str),
    st.sampled_from(NUMBER_WORDS),
)
UNICODE = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
CONTROL = st.text(
    st.characters(categories=("Cc",), exclude_characters="\x00"), min_size=1, max_size=6
)
HUGE = st.builds(
    lambda piece, count: piece * count,
    st.sampled_from(["a", "ß", "ﬃ", "😀", "<", "&", "x y ", "\u200b", "ع", "<b>"]),
    st.integers(min_value=300, max_value=4000),
)
ARGUMENT = st.one_of(
    st.sampled_from(WORDS),
    NUMBERS,
    st.sampled_from(INJECTIONS),
    st.sampled_from(SQL),
    st.sampled_from(ODD),
    st.text(UNICODE, max_size=30),
    CONTROL,
    HUGE,
)
SEPARATOR = st.sampled_from([" ", "  ", "\n", "\t", " \u3000 ", "\u00a0"])
SUFFIX = st.sampled_from(
    ["", "", "", f"@{BOT_USERNAME}", f"@{BOT_USERNAME.upper()}", "@Corr_Test_Bot", "@other_bot",
     "@", f"@{BOT_USERNAME}x"]
)  # fmt: skip
_NAME_CHARS = st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp"), exclude_characters="\x00@")
NAME = st.one_of(
    st.sampled_from(KNOWN),
    st.sampled_from(KNOWN),
    st.sampled_from(KNOWN),
    st.sampled_from(KNOWN).map(str.upper),
    st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True),
    st.text(_NAME_CHARS, max_size=12),
).filter(lambda name: not any(c.isspace() for c in name))
KIND = st.sampled_from(["private", "private", "group", "supergroup"])
MEMBER = st.sampled_from(["member", "administrator", "creator", "left"])


@dataclass(frozen=True)
class Case:
    """One command as a user types it, and where."""

    text: str
    kind: ChatKind
    member: str
    subscribed: bool

    @property
    def token(self) -> str:
        """The command word with its @suffix, as the bot splits it."""
        return self.text.split()[0]

    @property
    def args(self) -> list[str]:
        """The arguments, as python-telegram-bot splits them."""
        return self.text.split()[1:]

    @property
    def name(self) -> str:
        """The command name without '/' and '@bot', lower-cased as the handlers match it."""
        return self.token[1:].split("@")[0].lower()

    @property
    def known(self) -> bool:
        """Whether a command handler takes it (known name, addressed to this bot)."""
        parts = self.token[1:].split("@")
        return parts[0].lower() in KNOWN and (len(parts) == 1 or parts[1].lower() == BOT_USERNAME)

    @property
    def addressed(self) -> bool:
        """Whether the bot should answer at all (else: meant for another bot)."""
        target = self.token.partition("@")[2]
        return self.known or not target or target.lower() == BOT_USERNAME

    @property
    def manager(self) -> bool:
        """Whether the sender may manage the chat (private, or a group administrator)."""
        return self.kind == "private" or self.member in ("administrator", "creator")


def _fit(text: str) -> str:
    """Cut to what Telegram accepts in a message: 4096 UTF-16 code units."""
    while utf16_len(text) > MAX_TEXT:
        text = text[: len(text) - max(1, (utf16_len(text) - MAX_TEXT) // 2)]
    return text


@st.composite
def cases(draw: st.DrawFn, arguments: st.SearchStrategy[str] = ARGUMENT) -> Case:
    """A command text (any name, @suffix, arguments, spacing) from some chat."""
    name = draw(NAME)
    words = draw(st.lists(arguments, max_size=4))
    text = "/" + name + draw(SUFFIX)
    text += "".join(draw(SEPARATOR) + word for word in words)
    text += draw(st.sampled_from(["", "", " ", "\n"]))
    return Case(_fit(text), draw(KIND), draw(MEMBER), draw(st.booleans()))


def commands_of(
    names: st.SearchStrategy[str], arguments: st.SearchStrategy[list[str]]
) -> st.SearchStrategy[Case]:
    """Commands with the given names, addressed to this bot, with the given arguments."""
    return st.builds(
        lambda name, suffix, words, kind, member, subscribed: Case(
            _fit(f"/{name}{suffix} {' '.join(words)}"), kind, member, subscribed
        ),
        names,
        st.sampled_from(["", f"@{BOT_USERNAME}"]),
        arguments,
        KIND,
        MEMBER,
        st.booleans(),
    )


def _bad_arguments(case: Case) -> bool:
    """Whether the reply should be the usage line, per each command's documented usage."""
    args, name = case.args, case.name
    if name == "corr":
        return len(args) > 1 or (len(args) == 1 and args[0].upper() not in CRYPTO)
    if name == "chart":
        return len(args) > 1 or (len(args) == 1 and not _int_in(args[0], WINDOWS))
    if name == "alerts":
        return len(args) > 1 or (len(args) == 1 and not _int_in(args[0], range(1, 21)))
    if name == "settings":
        if not case.subscribed or not args:
            return False
        if len(args) != 2:
            return True
        if not case.manager:
            return False
        what, value = (a.lower() for a in args)
        levels = ("on", "silent", "off") if what in ("spikes", "regimes") else ("on", "off")
        return what not in ("spikes", "regimes", "digest") or value not in levels
    return False


def _shown(message: SentMessage) -> str:
    """The text a reader sees: Telegram HTML markup removed and entities decoded."""
    text = str(message.text)
    if message.parse_mode != "HTML":
        return text
    return html.unescape(re.sub(r"<[^<>]*>", "", text))


def _int_in(text: str, allowed: Any) -> bool:
    return text.isdecimal() and int(text) in allowed


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


EDGE_CASES = (
    Case("/corr " + "\ufb03" * 1360, "private", "member", False),  # upper() triples it
    Case("/" + "<&>" * 400, "private", "member", False),  # escaping makes it 2 messages
    Case("/settings " + "<b>" * 1000, "group", "administrator", True),
    Case("/corr@corr_test_bot " + "\U0001f600 " * 1300, "supergroup", "member", False),
    Case("/settings spikes '; DROP TABLE chats; --", "private", "member", True),
    Case("/alerts -0", "private", "member", False),
    Case("/chart 90", "group", "member", False),
)

# ---------------------------------------------------------------------------- properties


def _with_edge_cases(test: Any) -> Any:
    """Add the hand-picked :data:`EDGE_CASES` as explicit hypothesis examples."""
    for case in reversed(EDGE_CASES):
        test = example(case=case)(test)
    return test


def test_fuzzed_commands_never_crash_the_bot(
    fuzz_bot: BotThread, caplog: pytest.LogCaptureFixture
) -> None:
    """No fuzzed command makes a handler fail, and the bot still answers /help after them all."""

    @FUZZ
    @given(case=cases())
    @_with_edge_cases
    def no_failure(case: Case) -> None:
        before = len(_errors(caplog))
        fuzz_bot.call(fuzz_bot.exchange(case.text, kind=case.kind, member=case.member))
        assert _errors(caplog)[before:] == [], f"handling {case.text!r:.300} logged an error"

    no_failure()
    after = fuzz_bot.call(fuzz_bot.exchange("/help", kind="private"))
    assert after.replies
    assert "Commands:" in str(after.replies[0].text)
    assert not [r for r in caplog.records if r.name == "bot.tg.app" and r.levelno >= logging.ERROR]


def test_every_reply_is_accepted_by_telegram(fuzz_bot: BotThread) -> None:
    """Every reply to a fuzzed command parses as Telegram HTML and fits its length limits."""

    @FUZZ
    @given(case=cases())
    @_with_edge_cases
    def accepted(case: Case) -> None:
        result = fuzz_bot.call(
            fuzz_bot.exchange(
                case.text, kind=case.kind, member=case.member, subscribed=case.subscribed
            )
        )
        assert result.rejected == [], f"reply to {case.text!r:.300} refused by Telegram"
        for reply in result.replies:
            assert reply.text, "an empty reply"
            limit = 1024 if reply.method == "sendPhoto" else MAX_TEXT
            assert utf16_len(_shown(reply)) <= limit

    accepted()


def test_commands_for_this_bot_are_answered_and_others_ignored(fuzz_bot: BotThread) -> None:
    """A command addressed to this bot (or to no bot) is answered; one for another bot is not."""

    @FUZZ
    @given(case=cases())
    def answered(case: Case) -> None:
        result = fuzz_bot.call(fuzz_bot.exchange(case.text, kind=case.kind, member=case.member))
        if case.addressed:
            assert result.replies, f"no answer to {case.text!r:.300}"
        else:
            assert result.replies == [], f"answered {case.text!r:.300}, meant for another bot"

    answered()


GOOD_ARGUMENTS = (
    [], ["btc"], ["ETH"], ["30"], ["90"], ["5"], ["20"], ["1"], ["spikes", "off"],
    ["digest", "on"], ["REGIMES", "Silent"], ["digest", "silent"], ["spikes", "on", "now"],
)  # fmt: skip


def test_bad_arguments_get_the_usage_line(fuzz_bot: BotThread) -> None:
    """/corr, /chart, /alerts and /settings answer bad arguments (only those) with 'Usage:'."""
    focused = commands_of(
        st.sampled_from(["corr", "chart", "alerts", "settings"]),
        st.one_of(st.lists(ARGUMENT, max_size=3), st.sampled_from(GOOD_ARGUMENTS)),
    )

    @FUZZ
    @given(case=focused)
    def usage(case: Case) -> None:
        result = fuzz_bot.call(
            fuzz_bot.exchange(
                case.text, kind=case.kind, member=case.member, subscribed=case.subscribed
            )
        )
        shown = "\n".join(str(m.text) for m in result.replies)
        assert result.replies, f"no answer to {case.text!r:.300}"
        assert ("Usage:" in shown) == _bad_arguments(case), (
            f"{case.text!r:.300} ({case.kind}, {case.member}, subscribed={case.subscribed}) "
            f"answered {shown!r:.300}"
        )

    usage()


def test_sql_looking_arguments_leave_the_store_intact(fuzz_bot: BotThread) -> None:
    """SQL-injection-looking arguments change no table: all tables and chats rows survive."""
    store = fuzz_bot.bot.store
    tables = sorted(r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'"))
    assert "chats" in tables
    sql_cases = commands_of(
        st.sampled_from(KNOWN), st.lists(st.sampled_from(SQL + WORDS), min_size=1, max_size=3)
    )

    @FUZZ
    @given(case=sql_cases)
    def intact(case: Case) -> None:
        chats_before = store.query("SELECT COUNT(*) FROM chats")[0][0]
        fuzz_bot.call(
            fuzz_bot.exchange(
                case.text, kind=case.kind, member=case.member, subscribed=case.subscribed
            )
        )
        now = sorted(r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'"))
        assert now == tables, f"{case.text!r} changed the tables"
        chats_after = store.query("SELECT COUNT(*) FROM chats")[0][0]
        assert chats_after >= chats_before, f"{case.text!r} deleted chats"
        assert (
            store.query("SELECT COUNT(*) FROM chats WHERE spikes NOT IN ('on','silent','off')")[0][
                0
            ]
            == 0
        )

    intact()
    assert store.query("PRAGMA integrity_check") == [("ok",)]
    assert store.query("SELECT COUNT(*) FROM chats")[0][0] > 0


@pytest.mark.parametrize(
    "text", ["/alerts ²", "/chart ²", "/alerts ①", "/alerts ٣", "/chart " + "9" * 4090]
)
def test_non_decimal_digits_get_the_usage_line(
    fuzz_bot: BotThread, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    """Superscript, circled, non-ASCII or 4,090 digits as N or WINDOW: the usage line, no crash."""
    result = fuzz_bot.call(fuzz_bot.exchange(text, kind="private"))
    assert _errors(caplog) == []
    assert result.replies
    assert "Usage:" in str(result.replies[0].text)
