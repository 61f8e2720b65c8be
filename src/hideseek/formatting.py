"""The one formatter of a value with its interval, ``{"value", "ci"}`` -> text."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["format_value_ci"]


def format_value_ci(m: Mapping[str, Any] | None, digits: int = 3, ci_digits: int = 2) -> str:
    """``0.812 [0.74, 0.87]`` from ``{"value": 0.812, "ci": [0.74, 0.87]}``.

    Args:
        m: A value with an optional interval; None or a None value gives ``n/a``.
        digits: Decimals of the value.
        ci_digits: Decimals of the interval's bounds.

    Returns:
        The value alone when the interval is missing or not finite.
    """
    if not m or m.get("value") is None:
        return "n/a"
    value = f"{m['value']:.{digits}f}"
    lo, hi = m.get("ci") or (None, None)
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return value
    return f"{value} [{lo:.{ci_digits}f}, {hi:.{ci_digits}f}]"
