"""Checks shared by the typed configurations."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["all_of"]


def all_of(values: Iterable[str], choices: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` naming every value of ``values`` that is not one of ``choices``."""
    allowed = list(choices)
    bad = [v for v in values if v not in allowed]
    if bad:
        shown = ", ".join(repr(b) for b in bad)
        raise ValueError(f"unknown {what} {shown}; choose from {', '.join(allowed)}")
