"""Logging: readable lines, and secrets (the bot token) never in any of them.

httpx logs every request URL at INFO, and Bot API URLs contain the token
(``/bot123:ABC.../sendMessage``); exception texts from the HTTP stack can contain it too.
So the ``httpx``/``httpcore`` loggers are held at WARNING, and every handler formats through
:class:`RedactingFormatter`, which replaces each registered secret, in plain and
URL-encoded form, in the final text, tracebacks included.

A token is registered in every form it may travel in: as given (an environment variable
pasted with a trailing newline), stripped (what python-telegram-bot puts in its URLs), its
secret half after the colon on its own, and URL-encoded. Anything shaped like a Bot API token
(``<digits>:<35 url-safe characters>``) is redacted too, registered or not: a token pasted
into ``config.yaml`` or another process's environment is still a secret.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import urllib.parse
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "RedactingFormatter",
    "configure_logging",
    "redact",
    "register_secret",
]

REDACTED = "[REDACTED]"
_SECRETS: set[str] = set()
#: Bot API tokens as @BotFather issues them: the bot id, a colon, 35 url-safe characters.
_TOKEN_SHAPE = re.compile(r"\d{5,}(?::|%3A)[A-Za-z0-9_-]{30,}")
#: The secret half of a token alone is redacted only when long enough not to hit ordinary text.
_MIN_SECRET_PART = 16
_NOISY = ("httpx", "httpcore", "apscheduler.scheduler", "apscheduler.executors.default")


def register_secret(secret: str) -> None:
    """Never let ``secret`` (or its URL-encoded form) appear in any log record.

    Besides the formatters, a log-record factory scrubs every record as it is created, so
    handlers corrbot does not own (pytest's, a library's) never see the secret either.
    """
    forms = {secret, secret.strip()}
    _, colon, tail = secret.strip().partition(":")
    if colon and len(tail) >= _MIN_SECRET_PART:
        forms.add(tail)
    for form in forms - {""}:
        _SECRETS.add(form)
        _SECRETS.add(urllib.parse.quote(form, safe=""))
    if _SECRETS:
        _install_record_factory()


_factory_installed = False


def _install_record_factory() -> None:
    global _factory_installed  # noqa: PLW0603 - one process-wide hook, installed once
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def scrubbing_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(scrubbing_factory)
    _factory_installed = True


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every known secret, and anything shaped like a bot token, replaced."""
    for secret in sorted(secrets if secrets is not None else _SECRETS, key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return _TOKEN_SHAPE.sub(REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes secrets from the whole line (and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, secrets removed."""
        return redact(super().format(record))


# Attributes every LogRecord has; anything else was passed with ``extra=`` and is data.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time, level, logger, event, message and extra fields.

    ``event`` is the stable name of what happened (``job.finished``,
    ``delivery.sent``...), passed as ``extra={"event": ...}``; it falls back to the logger
    name so every line has one.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line, secrets removed."""
        created = datetime.fromtimestamp(record.created, tz=UTC)
        entry: dict[str, object] = {
            "ts": created.isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", record.name),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "event":
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(
    verbosity: int = 0,
    *,
    secrets: Iterable[str] = (),
    level: str | None = None,
    json_lines: bool = False,
) -> None:
    """Root logging to stderr, secrets redacted.

    ``-v``/``-vv`` (``verbosity``) win over the configured ``level``; with neither,
    WARNING, so one-shot commands keep their own output readable.
    """
    for secret in secrets:
        register_secret(secret)
    _install_record_factory()  # token-shaped text is scrubbed even when none is registered
    if verbosity > 0:
        resolved = logging.INFO if verbosity == 1 else logging.DEBUG
    else:
        resolved = _LEVELS.get(level or "warning", logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    text = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if json_lines else text)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(resolved)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(resolved, logging.WARNING))
