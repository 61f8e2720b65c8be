"""Progress bars that stay quiet when output is not a terminal (CI logs) unless asked."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

__all__ = ["progress"]

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str, total: int | None = None, **kw: Any) -> Any:
    """A tqdm bar on stderr; disabled when ``HIDESEEK_PROGRESS=0``."""
    disable = os.environ.get("HIDESEEK_PROGRESS", "1") == "0"
    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, disable=disable,
                dynamic_ncols=True, leave=False, mininterval=1.0, **kw)
