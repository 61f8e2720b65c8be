"""Checks shared by the typed configurations, and the one formatter of their errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from hideseek.errors import HideseekError, cut_list

__all__ = ["all_of", "config_error", "format_validation_error"]

# pydantic's prefixes of a validator's own message (ours are already plain words).
_PREFIXES = ("Value error, ", "Assertion failed, ")


def all_of(values: Iterable[str], choices: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` naming every value of ``values`` that is not one of ``choices``."""
    allowed = list(choices)
    bad = [v for v in values if v not in allowed]
    if bad:
        shown = ", ".join(repr(b) for b in bad)
        raise ValueError(f"unknown {what} {shown}; choose from {', '.join(allowed)}")


def _field_message(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "(top)"
    msg = str(error.get("msg", "invalid"))
    for prefix in _PREFIXES:
        msg = msg.removeprefix(prefix)
    return f"{where}: {msg}"


def format_validation_error(exc: ValidationError, limit: int = 10) -> str:
    """One line from a pydantic error: ``field: message`` pairs joined by ``;`` (no input
    echo, no documentation URL), a long list cut with a count.

    Args:
        exc: The validation error.
        limit: How many fields to list.
    """
    return "; ".join(cut_list([_field_message(e) for e in exc.errors()], limit))


def config_error(exc: ValueError, what: str) -> HideseekError:
    """The one-line error of an invalid configuration (``what`` says which, with its file).

    Args:
        exc: The pydantic ``ValidationError`` (any other ``ValueError``: its text).
        what: E.g. ``invalid training config`` or ``conf.yaml: invalid protocol config``.
    """
    detail = format_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
    return HideseekError(f"{what}: {detail}")
