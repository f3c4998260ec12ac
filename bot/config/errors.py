"""Pydantic's validation errors, told as the lines an operator reads on a bad ``config.yaml``.

One line per problem: the dotted key path (``universe.crypto[0].ccxt``), what is wrong and what
is accepted (the values of a choice, the keys of a section), and what took the place of a key
of an earlier version. Given values are shown cut short, so a huge or alias-bombed value cannot
flood the terminal. The models raise :class:`KeyedError` from a check that spans keys, to name
the key the operator must change rather than the model that checked it.
"""

from __future__ import annotations

import reprlib
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.core.errors import ConfigError

__all__ = ["KeyedError", "invalid_configuration"]


class KeyedError(ValueError):
    """A cross-field error that knows which key it is about."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def invalid_configuration(
    exc: ValidationError, *, source: str, root: type[BaseModel]
) -> ConfigError:
    """The error naming every problem of ``exc``; ``root`` is the model that was validated."""
    lines = [_describe(error, root) for error in exc.errors(include_url=False)]
    return ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(lines))


def _describe(error: Any, root: type[BaseModel]) -> str:
    """One line per problem: the dotted key path, then what is wrong and what is accepted."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, KeyedError):
        loc = cause.loc
    key = _dotted(loc)
    value = error.get("input")
    if kind == "literal_error":
        accepted = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"{key}: {value!r} is not one of {accepted}"
    if kind == "extra_forbidden" and loc in _REPLACED:
        return f"{key}: {_REPLACED[loc]}"
    if kind == "extra_forbidden":
        accepted_keys = ", ".join(_accepted_keys(loc[:-1], root))
        return f"{key}: unknown key (accepted here: {accepted_keys})"
    if kind == "missing":
        return f"{key}: required"
    if kind == "model_type":
        return f"{key}: must be a mapping of keys ({', '.join(_accepted_keys(loc, root))})"
    message = str(cause) if cause is not None else error["msg"]
    message = message.removeprefix("Value error, ")
    return (
        f"{key}: {message} (got {_short(value)})" if kind != "value_error" else f"{key}: {message}"
    )


#: Keys of earlier versions, and what took their place.
_REPLACED: dict[tuple[str | int, ...], str] = {
    ("alerts", "spike"): (
        "replaced by alerts.shift, a test of change in co-movement against the sessions before "
        "the window (keys: z, rearm_z, baseline_sessions, settle_sessions, clip, vol_halflife, "
        "lead); its old keys have no equivalent: remove alerts.spike (see docs/configuration.md)"
    ),
}


def _dotted(loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def _accepted_keys(loc: tuple[str | int, ...], root: type[BaseModel]) -> list[str]:
    """The field names of the model found at ``loc``, walking from ``root``."""
    model: Any = root
    for item in loc:
        if isinstance(item, int):
            continue
        field = model.model_fields.get(item)
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        model = inner[0] if inner else annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)


def _bounded_repr() -> reprlib.Repr:
    bounded = reprlib.Repr()  # keyword arguments only from Python 3.12
    bounded.maxlevel, bounded.maxlist, bounded.maxdict = 2, 4, 4
    bounded.maxstring = bounded.maxother = 50
    return bounded


_SHORT_REPR = _bounded_repr()


def _short(value: Any) -> str:
    """A bounded repr: a huge or alias-bombed value is cut without being expanded first."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
