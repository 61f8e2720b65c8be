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
    """A tqdm bar on stderr when it is a terminal (``HIDESEEK_PROGRESS=1`` forces it on,
    ``0`` off); logs carry per-epoch lines either way."""
    flag = os.environ.get("HIDESEEK_PROGRESS")
    disable = flag == "0" if flag is not None else not sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, disable=disable,
                dynamic_ncols=True, leave=False, mininterval=1.0, **kw)
