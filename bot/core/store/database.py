"""The SQLite file itself: opening it owner-only, checking it, migrating it, transactions.

Everything that can go wrong with the file (damaged, written by a newer corrbot, locked by
another process, on a full disk) is found here and raised as a :class:`StoreError` that
says what to do; a full disk gets its own :class:`DiskFullError`, because the advice for a
damaged file ("move it aside") would discard every subscriber of a healthy one. The
tables' own statements live with their owners beside this module.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.core.errors import DiskFullError, StoreError
from bot.core.store.migrations import MIGRATIONS

__all__ = ["Database"]


class Database:
    """A SQLite database opened, migrated and ready; use :meth:`open`.

    One connection, shared by the event loop and worker threads behind a lock, with
    ``isolation_level=None`` so that transactions are exactly the ones
    :meth:`transaction` opens.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._conn = connection
        self._lock = threading.RLock()
        self.path = path

    @classmethod
    def open(cls, path: Path | str) -> Database:
        """Open (creating it owner-only if needed) and migrate the store at ``path``."""
        path = Path(path)
        if str(path) != ":memory:":
            _create_private(path)
        try:
            conn = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _translated(exc, path, f"cannot open the store at {path}: {exc}") from None
        database = cls(conn, path)
        try:
            database._check_integrity()
            database._check_version()  # before WAL: a newer corrbot's file is left as it is
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            database._migrate()
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _translated(
                exc,
                path,
                f"the store at {path} is unreadable ({exc}); move it aside to start afresh",
            ) from None
        return database

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_integrity(self) -> None:
        """Refuse a damaged file at start-up rather than fail on the first read mid-run.

        ``quick_check`` reads every page (about 20 ms for 30 symbols x 10 years, 5 MB) but
        skips the costly index-content comparison of a full ``integrity_check``.
        """
        problems = [str(row[0]) for row in self._conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise StoreError(
                f"the store at {self.path} is damaged ({'; '.join(problems)}); "
                "move it aside to start afresh"
            )

    def _check_version(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the store at {self.path} has schema version {version}, newer than this "
                f"corrbot understands ({len(MIGRATIONS)}); upgrade corrbot"
            )

    def _migrate(self) -> None:
        version = self.schema_version
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as conn:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target:d}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction: all of it is written, or none."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _translated(
                    exc, self.path, f"the store at {self.path} is busy or locked: {exc}"
                ) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._roll_back()
                raise _translated(
                    exc, self.path, f"cannot write to the store at {self.path}: {exc}"
                ) from None
            except BaseException:
                self._roll_back()
                raise

    def _roll_back(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on a full disk).

        A failing ROLLBACK must not replace the error that caused it, so it is ignored:
        either way nothing of the transaction was written.
        """
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run a read-only statement; errors become ``StoreError``."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _translated(
                    exc, self.path, f"cannot read the store at {self.path}: {exc}"
                ) from None


#: SQLite's primary result codes that a full disk produces: SQLITE_FULL, and SQLITE_IOERR and
#: SQLITE_CANTOPEN when the journal or the WAL index cannot be created for want of space.
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_CANTOPEN = 13, 10, 14
#: Below this much free space an I/O error is taken for a full disk (a page, a WAL frame).
_NEARLY_FULL_BYTES = 1 << 20


def _translated(exc: sqlite3.Error, path: Path, otherwise: str) -> StoreError:
    """The store error for ``exc``: a full disk is named as such, with what to do about it."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == _SQLITE_FULL or (code in (_SQLITE_IOERR, _SQLITE_CANTOPEN) and _nearly_full(path)):
        free = _free_bytes(path)
        shown = "" if free is None else f", {free // 1024} KiB free"
        return DiskFullError(
            f"the disk holding the store at {path} is full ({exc}{shown}): free some space; "
            "the store itself is intact, keep it"
        )
    return StoreError(otherwise)


def _free_bytes(path: Path) -> int | None:
    if str(path) == ":memory:":
        return None
    try:
        return shutil.disk_usage(path.resolve().parent).free
    except OSError:
        return None


def _nearly_full(path: Path) -> bool:
    free = _free_bytes(path)
    return free is not None and free < _NEARLY_FULL_BYTES


def _create_private(path: Path) -> None:
    """Create the database file owner-only before SQLite does, so it never exists wider."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"the disk holding the store at {path} is full: free some space"
            ) from None
        raise StoreError(f"cannot create the store at {path}: {exc.strerror}") from None


def _statements(script: str) -> list[str]:
    """Split a migration script on semicolons (none inside the scripts' string literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
