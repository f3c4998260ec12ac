"""Fuzzing config.yaml through ``corrbot fetch --config PATH``, in process.

Every document is written to a fresh folder and run through :func:`bot.cli.main` with
``capsys``: a bad configuration must end with exit status 2 and a message naming the dotted key
path (``universe.crypto[0].symbol``), never with a traceback or an exception escaping ``main``;
a valid one must get past validation (exit 0 or 1). Documents always keep the ``synthetic``
data sources and a storage path inside the test's folder unless the mutation under test
replaces them, so nothing reaches the network and nothing is written outside ``tmp_path``.
Generation is derandomized, bounded by ``max_examples`` and has no deadline.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import re
import time
import tracemalloc
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ccxt
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import Config

FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FEW = settings(FUZZ, max_examples=12)

BASE: dict[str, Any] = {
    "universe": {
        "crypto": [
            {"symbol": "BTC", "ccxt": "BTC/USD", "yahoo": "BTC-USD"},
            {"symbol": "ETH", "ccxt": "ETH/USD", "yahoo": "ETH-USD"},
        ],
        "equities": [{"symbol": "PSCT", "label": "US small-cap tech"}, {"symbol": "IWM"}],
    },
    "data": {"crypto_source": "synthetic", "equity_source": "synthetic", "history_sessions": 60},
    "storage": {"path": "store.sqlite3"},
}

Path_ = tuple[str | int, ...]

# ---------------------------------------------------------------------------- running


@dataclass
class Outcome:
    """What `corrbot fetch` did with one document."""

    code: int
    out: str
    err: str


class Fetch:
    """Writes a document to a fresh folder and runs `corrbot fetch --config` on it."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys
        self._ids = itertools.count()

    def __call__(self, document: Any) -> Outcome:
        """Run on ``document``: a mapping (dumped as YAML), or the file's text or bytes."""
        folder = self.root / f"c{next(self._ids)}"
        folder.mkdir()
        path = folder / "config.yaml"
        if isinstance(document, bytes):
            path.write_bytes(document)
        elif isinstance(document, str):
            path.write_text(document, encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        self.capsys.readouterr()
        try:
            code = main(["fetch", "--config", str(path)])
        except BaseException as exc:  # any escape is the failure under test
            raise AssertionError(f"{type(exc).__name__} escaped main: {exc}"[:500]) from None
        finally:
            root.handlers[:] = handlers  # main() installs its own stderr handler
            root.setLevel(level)
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)


@pytest.fixture
def fetch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Fetch:
    """`corrbot fetch` on documents, each in its own folder under ``tmp_path``."""
    return Fetch(tmp_path, capsys)


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _with(document: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with ``value`` at ``path`` (dicts created on the way)."""
    result = copy.deepcopy(document)
    node: Any = result
    for part, following in itertools.pairwise(path):
        if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
            node[part] = [] if isinstance(following, int) else {}
        node = node[part]
    node[path[-1]] = value
    return result


def _rejected(outcome: Outcome, *keys: str) -> None:
    assert "Traceback" not in outcome.err, outcome.err[-2000:]
    assert outcome.code == 2, f"exit {outcome.code}: {outcome.err[-1000:]}"
    for key in keys:
        assert key in outcome.err, f"{key!r} not named in: {outcome.err[-1000:]}"


# ---------------------------------------------------------------------------- bad values

JUNK_TEXT = st.sampled_from(["lots", "", " ", "ten", "1O", "∞", "12 sessions", "yes please"])
NOT_SCALAR = st.one_of(
    st.lists(st.integers(), max_size=3),
    st.lists(st.lists(st.text(max_size=3), max_size=2), min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["a", "b", "0"]), st.integers(), min_size=1, max_size=2),
)
NOT_A_NUMBER = st.one_of(st.none(), JUNK_TEXT, NOT_SCALAR)
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
FRACTION = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())
HUGE_INT = st.sampled_from([2**63, 10**100, -(10**100)])
PRINTABLE = st.characters(exclude_categories=("Cs", "Cc"))


def ints_outside(low: int, high: int | None) -> st.SearchStrategy[Any]:
    """Values an int field bounded to [low, high] must refuse.

    Booleans are left out: a count read from YAML ``yes`` as 1 is harmless, and the ids,
    where it is not, have their own test.
    """
    outside = [st.integers(max_value=low - 1)]
    if high is not None:
        outside.append(st.integers(min_value=high + 1))
        outside.append(st.just(10**100))
    return st.one_of(*outside, NOT_A_NUMBER, NON_FINITE, FRACTION)


def floats_outside(low: float, high: float, *, low_open: bool = False) -> st.SearchStrategy[Any]:
    """Values a float field bounded to [low, high] (or (low, high]) must refuse."""
    below = st.floats(max_value=low, exclude_max=not low_open)
    above = st.floats(min_value=high, exclude_min=True)
    return st.one_of(below, above, NON_FINITE, NOT_A_NUMBER)


def texts_except(accepted: Callable[[str], bool], *, max_size: int = 40) -> st.SearchStrategy[Any]:
    """Strings ``accepted`` refuses, or values that are not strings at all."""
    strings = st.text(PRINTABLE, max_size=max_size).filter(lambda t: not accepted(t))
    return st.one_of(strings, st.integers(), NOT_SCALAR)


def _symbol_ok(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]*", text) is not None and len(text) <= 20


def _zone_ok(text: str) -> bool:
    """A zone ZoneInfo loads; folders ("America") and overlong names are not zones."""
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _channel_ok(text: str) -> bool:
    digits = text.removeprefix("-")
    return text.startswith("@") or (digits.isascii() and digits.isdecimal() and len(digits) <= 20)


def _edges_ok(edges: Any) -> bool:
    return (
        isinstance(edges, list)
        and len(edges) == 3
        and all(isinstance(e, float) for e in edges)
        and -1.0 < edges[0] < edges[1] < edges[2] < 1.0
    )


EDGE = st.floats(min_value=-0.99, max_value=0.99)
CRYPTO_SOURCES = ("ccxt", "yfinance", "csv", "synthetic")
#: Every key and values it must refuse on its own (each key's own constraint, nothing else).
BAD: dict[Path_, st.SearchStrategy[Any]] = {
    ("universe",): st.one_of(st.integers(), JUNK_TEXT, st.lists(st.integers(), max_size=2)),
    ("universe", "crypto"): st.one_of(st.just([]), JUNK_TEXT, st.integers()),
    ("universe", "crypto", 0): st.one_of(st.integers(), JUNK_TEXT, st.none()),
    ("universe", "crypto", 0, "symbol"): texts_except(_symbol_ok),
    ("universe", "crypto", 0, "ccxt"): texts_except(
        lambda t: re.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+", t) is not None
    ),
    ("universe", "crypto", 0, "label"): st.one_of(st.integers(), st.none(), NOT_SCALAR),
    ("universe", "crypto", 0, "tick"): st.integers(),  # an unknown key
    ("universe", "equities"): st.one_of(st.just([]), JUNK_TEXT, st.integers()),
    ("universe", "equities", 1, "symbol"): texts_except(_symbol_ok),
    ("data",): st.one_of(st.integers(), JUNK_TEXT, st.none(), st.lists(st.integers(), max_size=2)),
    ("data", "crypto_source"): texts_except(
        lambda t: t in ("ccxt", "yfinance", "csv", "synthetic")
    ),
    ("data", "equity_source"): texts_except(lambda t: t in ("yfinance", "csv", "synthetic")),
    ("data", "crypto_sampling"): texts_except(lambda t: t in ("equity_close", "daily_close")),
    ("data", "exchanges"): st.one_of(
        st.just([]),
        st.just(["coinbase", "coinbase"]),
        st.lists(st.text(PRINTABLE, max_size=12), min_size=1, max_size=3).filter(
            lambda ids: any(i not in ccxt.exchanges for i in ids)
        ),
        st.lists(st.integers(), min_size=1, max_size=2),
        JUNK_TEXT,
    ),
    ("data", "csv_dir"): st.one_of(st.integers(), NOT_SCALAR),
    ("data", "history_sessions"): ints_outside(60, 10_000),
    ("data", "refresh_overlap_sessions"): ints_outside(0, 30),
    ("data", "stale_after_minutes"): ints_outside(0, 1440),
    ("data", "outlier_zscore"): floats_outside(3.0, 100.0, low_open=True),
    ("data", "synthetic_seed"): ints_outside(0, None),
    ("analysis", "windows"): st.one_of(
        st.just([]),
        st.lists(st.integers(max_value=9) | st.integers(min_value=501), min_size=1, max_size=3),
        st.lists(st.integers(10, 500), min_size=7, max_size=9, unique=True),
        st.just([30, 30, 90]),
        JUNK_TEXT,
        st.integers(),
    ),
    ("analysis", "headline_window"): st.one_of(
        st.integers().filter(lambda w: w not in (30, 90)), NOT_A_NUMBER, FRACTION
    ),
    ("analysis", "ewm_halflife"): floats_outside(2.0, 250.0),
    ("analysis", "min_coverage"): floats_outside(0.3, 1.0, low_open=True),
    ("alerts", "pairs"): st.one_of(
        st.just(["BTC"]),
        st.just(["BTC~DOGE"]),
        st.just("BTC~PSCT"),
        st.lists(st.integers(), min_size=1, max_size=2),
        st.lists(st.text(PRINTABLE, max_size=10).filter(lambda t: "~" not in t), min_size=1),
    ),
    ("alerts", "regime", "edges"): st.one_of(
        st.lists(EDGE, min_size=3, max_size=3).filter(lambda e: not _edges_ok(e)),
        st.lists(EDGE, min_size=0, max_size=2),
        st.lists(EDGE, min_size=4, max_size=5),
        st.lists(st.sampled_from([-1.0, 1.0, 2.0, math.nan]), min_size=3, max_size=3),
        JUNK_TEXT,
    ),
    ("alerts", "regime", "hysteresis"): floats_outside(0.0, 0.3),
    ("alerts", "regime", "confirm_sessions"): ints_outside(1, 30),
    ("alerts", "spike"): st.fixed_dictionaries(  # the old rule's section, replaced by shift
        {"z": st.floats(1.0, 10.0), "cooldown_sessions": st.integers(0, 250)}
    ),
    ("alerts", "shift", "z"): floats_outside(1.5, 10.0),
    ("alerts", "shift", "rearm_z"): floats_outside(0.0, 5.0, low_open=True)
    | st.floats(3.0, 5.0),  # >= the default z (3.0)
    ("alerts", "shift", "baseline_sessions"): ints_outside(60, 1000),
    ("alerts", "shift", "settle_sessions"): ints_outside(1, 250),
    ("alerts", "shift", "clip"): floats_outside(1.0, 10.0),
    ("alerts", "shift", "vol_halflife"): floats_outside(2.0, 250.0),
    ("alerts", "shift", "lead"): JUNK_TEXT | st.integers(2, 9),
    ("telegram", "api_base_url"): texts_except(
        lambda t: re.fullmatch(r"https?://\S+", t) is not None
    ),
    ("telegram", "admins"): st.one_of(
        st.lists(st.integers(max_value=0), min_size=1, max_size=3),
        st.lists(JUNK_TEXT | FRACTION, min_size=1, max_size=2),
        st.integers(),
    ),
    ("telegram", "channel"): st.one_of(
        st.text(PRINTABLE, max_size=20).filter(lambda t: not _channel_ok(t)),
        FRACTION,
        NOT_SCALAR,
    ),
    ("telegram", "poll_timeout_seconds"): ints_outside(1, 60),
    ("telegram", "token"): st.text(PRINTABLE, max_size=50),  # never a config key
    ("schedule", "time"): texts_except(
        lambda t: re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", t) is not None
    ),
    ("schedule", "timezone"): texts_except(_zone_ok),
    ("schedule", "retry_minutes"): ints_outside(1, 240),
    ("schedule", "retry_for_minutes"): ints_outside(0, 1440),
    ("delivery", "messages_per_second"): floats_outside(0.0, 30.0, low_open=True),
    ("delivery", "max_attempts"): ints_outside(1, 50),
    ("delivery", "concurrency"): ints_outside(1, 256),
    ("storage", "path"): st.one_of(st.none(), st.integers(), NOT_SCALAR),
}
SECTIONS = {p[0] for p in BAD}
#: Keys whose value may be null.
NULLABLE = {
    ("universe", "crypto", 0, "ccxt"),
    ("universe", "crypto", 0, "yahoo"),
    ("data", "csv_dir"),
    ("alerts", "pairs"),
    ("telegram", "channel"),
}
LEAVES = sorted(
    {p for p in BAD if len(p) > 1 and p[-1] not in ("tick", "token", 0, "crypto", "equities")}
    | NULLABLE,
    key=str,
)


@st.composite
def one_bad_key(draw: st.DrawFn) -> tuple[Path_, Any]:
    """A key and a value it must refuse."""
    path = draw(st.sampled_from(sorted(BAD, key=str)))
    return path, draw(BAD[path])


# ---------------------------------------------------------------------------- properties


def test_a_single_bad_key_exits_2_naming_it(fetch: Fetch) -> None:
    """Any one bad value (type, range, NaN, inf, huge, unknown key) exits 2 naming its key."""

    @FUZZ
    @given(bad=one_bad_key())
    def named(bad: tuple[Path_, Any]) -> None:
        path, value = bad
        _rejected(fetch(_with(BASE, path, value)), _dotted(path))

    named()


def test_several_bad_keys_are_all_named_at_once(fetch: Fetch) -> None:
    """Bad values in several sections are all reported in one run, each by its key."""
    deep = sorted(
        (p for p in BAD if len(p) >= 2 and p[0] != "universe" and p != ("alerts", "pairs")),
        key=str,
    )  # alerts.pairs against the universe is checked only once every section is valid

    @settings(FUZZ, max_examples=60)
    @given(paths=st.lists(st.sampled_from(deep), min_size=2, max_size=4), data=st.data())
    def all_named(paths: list[Path_], data: st.DataObject) -> None:
        sections = {p[0] for p in paths}
        assume(len(sections) == len(paths))  # one per section: no key hides another
        document = BASE
        for path in paths:
            document = _with(document, path, data.draw(BAD[path]))
        _rejected(fetch(document), *(_dotted(p) for p in paths))

    all_named()


def test_unknown_keys_anywhere_are_named(fetch: Fetch) -> None:
    """A key no section knows, at the top or inside a section, exits 2 as an unknown key."""
    sections = st.sampled_from(
        [(), ("data",), ("analysis",), ("alerts",), ("alerts", "shift"), ("telegram",),
         ("schedule",), ("delivery",), ("storage",), ("universe", "crypto", 1)]
    )  # fmt: skip
    names = st.text(PRINTABLE, min_size=1, max_size=30).map(lambda t: f"zz{t}")

    @FUZZ
    @given(where=sections, name=names, value=st.none() | st.integers() | JUNK_TEXT)
    def unknown(where: Path_, name: str, value: Any) -> None:
        key = (*where, name)
        _rejected(fetch(_with(BASE, key, value)), f"{_dotted(key)}: unknown key")

    unknown()


@pytest.mark.parametrize("path", LEAVES, ids=_dotted)
def test_null_in_any_single_key_is_named_unless_optional(fetch: Fetch, path: Path_) -> None:
    """A null is accepted where a key is optional, and otherwise exits 2 naming the key."""
    outcome = fetch(_with(BASE, path, None))
    if path in NULLABLE:
        assert outcome.code in (0, 1), outcome.err[-1000:]
        assert "invalid configuration" not in outcome.err
    else:
        _rejected(outcome, _dotted(path))


def test_null_everywhere_names_every_required_key(fetch: Fetch) -> None:
    """A document with every key null is refused once, naming every key that needs a value."""
    document = BASE
    for path in LEAVES:
        document = _with(document, path, None)
    _rejected(fetch(document), *(_dotted(p) for p in LEAVES if p not in NULLABLE))


@pytest.mark.parametrize(
    "text",
    [
        "x: !!python/object/apply:os.system ['touch {marker}']\n",
        "data: !!python/object/new:os.system ['touch {marker}']\n",
        "!!python/name:os.system x: 1\n",
        "storage: {{path: !!python/object:pathlib.Path {{}}}}\n",
        "data: {{history_sessions: !!python/int 100}}\n",
    ],
)
def test_python_yaml_tags_are_refused_without_running_anything(
    fetch: Fetch, tmp_path: Path, text: str
) -> None:
    """YAML tags that build Python objects are refused (safe_load) and never executed."""
    marker = tmp_path / "pwned"
    outcome = fetch(text.format(marker=marker))
    _rejected(outcome, "not valid YAML")
    assert "could not determine a constructor" in outcome.err
    assert not marker.exists()


def test_any_document_text_exits_cleanly(fetch: Fetch) -> None:
    """Arbitrary text or bytes as config.yaml end in a clean exit 2, never a traceback."""

    def parsed(raw: str | bytes) -> Any:
        try:
            return yaml.safe_load(raw)
        except (yaml.YAMLError, ValueError):
            return "unparsable"

    documents = st.one_of(
        st.text(PRINTABLE | st.sampled_from(list(":-[]{}&*!|>'\"#%@`,?\n\t ")), max_size=200),
        st.binary(max_size=200),
    )

    @FUZZ
    @given(document=documents)
    def clean(document: str | bytes) -> None:
        value = parsed(document)
        # Only sections, or nothing at all, may be a valid file of defaults: network sources.
        known = set(Config.model_fields)
        assume(not (value is None or (isinstance(value, dict) and set(value) <= known)))
        outcome = fetch(document)
        assert "Traceback" not in outcome.err
        assert outcome.code == 2, f"exit {outcome.code} for {document!r:.200}: {outcome.err}"
        assert outcome.err.startswith("corrbot: ")

    clean()


def test_junk_values_in_every_section_exit_cleanly(fetch: Fetch) -> None:
    """Deeply nested junk (lists, maps, NaN, huge ints, long strings) under any section exits 2."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers() | HUGE_INT,
        st.floats(),
        st.text(PRINTABLE, max_size=20),
        st.text(PRINTABLE, min_size=2000, max_size=5000),
    )
    junk = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(PRINTABLE, max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
    sections = st.sampled_from(sorted(SECTIONS))

    @FUZZ
    @given(section=sections, value=junk)
    def clean(section: str, value: Any) -> None:
        document = _with(BASE, (section,), value)
        if isinstance(value, dict) and section == "storage":
            document["storage"]["path"] = "store.sqlite3"  # never written outside tmp_path
        if isinstance(value, dict) and section == "data":
            document["data"].update(crypto_source="synthetic", equity_source="synthetic")
            document["data"].setdefault("history_sessions", 60)
        outcome = fetch(document)
        assert "Traceback" not in outcome.err
        assert outcome.code in (0, 1, 2)
        if outcome.code == 2:
            assert section in outcome.err or "not valid YAML" in outcome.err

    clean()


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Documents that are valid: every value within what its key accepts."""
    windows = draw(st.lists(st.integers(10, 500), min_size=1, max_size=6, unique=True))
    edges = sorted(draw(st.lists(EDGE, min_size=3, max_size=3, unique=True)))
    assume(_edges_ok(edges))
    pairs = [f"{c}~{e}" for c in ("BTC", "ETH") for e in ("PSCT", "IWM")]
    document = copy.deepcopy(BASE)
    document["data"] |= {
        "exchanges": draw(
            st.lists(st.sampled_from(["coinbase", "kraken", "bitstamp"]), min_size=1, unique=True)
        ),
        "crypto_sampling": draw(st.sampled_from(["equity_close", "daily_close"])),
        "refresh_overlap_sessions": draw(st.integers(0, 30)),
        "stale_after_minutes": draw(st.integers(0, 1440)),
        "outlier_zscore": draw(st.floats(3.001, 100.0)),
        "synthetic_seed": draw(st.integers(0, 2**62) | HUGE_INT.map(abs)),
    }
    document["analysis"] = {
        "windows": windows,
        "headline_window": draw(st.sampled_from(windows)),
        "ewm_halflife": draw(st.floats(2.0, 250.0)),
        "min_coverage": draw(st.floats(0.301, 1.0)),
    }
    document["alerts"] = {
        "pairs": draw(st.none() | st.lists(st.sampled_from(pairs), min_size=1, unique=True)),
        "regime": {
            "edges": edges,
            "hysteresis": draw(st.floats(0.0, 0.3)),
            "confirm_sessions": draw(st.integers(1, 30)),
        },
        "shift": {
            "z": (z := draw(st.floats(1.5, 10.0))),
            "rearm_z": draw(st.floats(0.0, min(z, 5.0), exclude_min=True, exclude_max=True)),
            "baseline_sessions": draw(
                st.integers(max(60, document["analysis"]["headline_window"] + 1), 1000)
            ),
            "settle_sessions": draw(st.integers(1, 250)),
            "clip": draw(st.floats(1.0, 10.0)),
            "vol_halflife": draw(st.floats(2.0, 250.0)),
            "lead": draw(st.booleans()),
        },
    }
    document["telegram"] = {
        "api_base_url": draw(st.sampled_from(["https://api.telegram.org/bot", "http://h/b"])),
        "admins": draw(st.lists(st.integers(min_value=1) | HUGE_INT.map(abs), max_size=3)),
        "channel": draw(st.none() | st.just("@corr_alerts") | st.integers(max_value=-1)),
        "poll_timeout_seconds": draw(st.integers(1, 60)),
    }
    document["schedule"] = {
        "time": f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}",
        "timezone": draw(st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"])),
        "retry_minutes": draw(st.integers(1, 240)),
        "retry_for_minutes": draw(st.integers(0, 1440)),
    }
    document["delivery"] = {
        "messages_per_second": draw(st.floats(0.001, 30.0)),
        "max_attempts": draw(st.integers(1, 50)),
        "concurrency": draw(st.integers(1, 256)),
    }
    labels = st.text(PRINTABLE, max_size=300)
    document["universe"]["equities"][1]["label"] = draw(labels)
    return document


def test_valid_mutations_pass_validation(fetch: Fetch) -> None:
    """Valid values anywhere within their bounds never exit 2: fetch runs (exit 0 or 1)."""

    @FEW
    @given(document=valid_documents())
    def accepted(document: dict[str, Any]) -> None:
        outcome = fetch(document)
        assert "Traceback" not in outcome.err
        assert outcome.code in (0, 1), f"exit {outcome.code}: {outcome.err[-1000:]}"
        assert "invalid configuration" not in outcome.err

    accepted()


# ---------------------------------------------------------------------------- findings


@pytest.mark.parametrize("zone", ["America", "Etc", "a" * 300])
def test_timezone_naming_a_tzdata_folder_or_too_long_exits_2(fetch: Fetch, zone: str) -> None:
    """schedule.timezone 'America' (a folder) or a 300-character name exits 2 naming the key."""
    _rejected(fetch(_with(BASE, ("schedule", "timezone"), zone)), "schedule.timezone")


@pytest.mark.parametrize("path", [("storage", "path"), ("data", "csv_dir")])
def test_nul_in_a_path_exits_2_naming_the_key(fetch: Fetch, path: Path_) -> None:
    """A path holding a NUL character is a configuration error naming its key."""
    document = _with(BASE, path, "store\x00.sqlite3")
    if path == ("data", "csv_dir"):
        document["data"].update(crypto_source="csv", equity_source="csv")
    _rejected(fetch(document), _dotted(path))


def test_empty_storage_path_exits_2_naming_the_key(fetch: Fetch) -> None:
    """storage.path '' is refused as configuration instead of failing later with exit 1."""
    _rejected(fetch(_with(BASE, ("storage", "path"), "")), "storage.path")


def test_boolean_admin_id_exits_2_naming_the_key(fetch: Fetch) -> None:
    """telegram.admins: [yes] is refused instead of making Telegram user 1 an administrator."""
    _rejected(fetch("telegram: {admins: [yes]}\n" + yaml.safe_dump(BASE)), "telegram.admins[0]")


def _alias_bomb(depth: int, width: int) -> str:
    lines = ["anchors:", "  l0: &l0 lol"]
    for level in range(1, depth + 1):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\ndata: {{exchanges: [*l{depth}]}}\n"


@pytest.fixture
def warm(fetch: Fetch) -> None:
    """Imports done (ccxt, pydantic schemas) so memory measured is the document's own."""
    fetch(_with(BASE, ("data", "exchanges"), [5]))


def test_alias_bomb_is_reported_without_expanding_it(fetch: Fetch, warm: None) -> None:
    """A 400-byte YAML alias bomb is refused with bounded memory, not expanded by repr()."""
    document = _alias_bomb(depth=6, width=10)  # a million leaves by reference
    assert len(document) < 500
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = fetch(document)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _rejected(outcome, "data.exchanges[0]")
    assert peak < 2_000_000, f"{peak / 1e6:.1f} MB and {time.perf_counter() - started:.1f} s"


def test_deeply_nested_yaml_exits_2(fetch: Fetch) -> None:
    """A 6 KB file of nested brackets is refused as bad YAML instead of a RecursionError."""
    _rejected(fetch("data: " + "[" * 3000 + "]" * 3000 + "\n"), "not valid YAML")
