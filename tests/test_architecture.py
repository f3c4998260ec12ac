"""The rooms of the code keep their jobs: what import-linter cannot see, read from the source."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

#: Each table and the one module that writes it (its definition lives in the migrations).
TABLE_OWNERS = {
    "prices": "core/store/prices.py",
    "price_gaps": "core/store/prices.py",
    "fetch_log": "core/store/prices.py",
    "alerts": "core/store/alerts.py",
    "engine_state": "core/store/alerts.py",
    "outbound": "core/store/outbox.py",
    "deliveries": "core/store/outbox.py",
    "chats": "core/store/chats.py",
    "meta": "core/store/meta.py",
}
_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)
_READ = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
#: Modules that read a table they do not own, and why (a join that mirrors their own rule).
_READERS = {
    ("core/store/outbox.py", "chats"): "fan-out picks the chats whose settings want a kind",
}
MAX_LINES = 300


def _modules() -> Iterator[Path]:
    yield from sorted(BOT.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(BOT).as_posix()


def _strings(path: Path) -> Iterator[str]:
    """Every string constant of a module, f-string pieces included."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _calls(path: Path) -> Iterator[str]:
    """Every call in a module, as its dotted name (``Store.open``, ``CorrService``)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func)


def test_only_the_composition_root_constructs_the_store_and_the_service() -> None:
    """``Store.open`` and ``CorrService(...)`` are called in bot/compose.py and nowhere else."""
    constructors = {"Store.open", "Store", "Database.open", "CorrService"}
    found = {
        (_name(path), call)
        for path in _modules()
        for call in _calls(path)
        if call in constructors and not _name(path).startswith("core/store/")
    }
    assert found == {("compose.py", "Store.open"), ("compose.py", "CorrService")}


@pytest.mark.parametrize("table", sorted(TABLE_OWNERS))
def test_every_table_is_written_by_its_owner_only(table: str) -> None:
    """An INSERT, UPDATE or DELETE of a table appears in its owner's module and no other."""
    writers = {
        _name(path)
        for path in _modules()
        for text in _strings(path)
        if _name(path) != "core/store/migrations.py"
        and any(match.lower() == table for match in _WRITE.findall(text))
    }
    assert writers == {TABLE_OWNERS[table]}


def test_tables_are_read_by_their_owners_or_for_a_stated_reason() -> None:
    """A SELECT on a table outside its owner's module is a listed exception, with its reason."""
    strays = {
        (_name(path), table)
        for path in _modules()
        if _name(path) != "core/store/migrations.py"
        for text in _strings(path)
        if "SELECT" in text.upper()
        for table in (match.lower() for match in _READ.findall(text))
        if table in TABLE_OWNERS and TABLE_OWNERS[table] != _name(path)
    }
    assert strays <= set(_READERS), strays - set(_READERS)


def test_a_long_module_says_at_its_top_why_it_is_long() -> None:
    """Over 300 lines, a module's docstring says why it is not split (the word "long")."""
    unexplained = []
    for path in _modules():
        if len(path.read_text().splitlines()) <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if "long" not in doc.lower():
            unexplained.append(_name(path))
    assert unexplained == []
