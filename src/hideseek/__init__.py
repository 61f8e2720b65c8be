"""hideseek: the ROI Hide-and-Seek protocol for chest X-ray classifiers.

Pipeline packages, in order: :mod:`hideseek.data` -> :mod:`hideseek.segmentation` ->
:mod:`hideseek.representations` -> :mod:`hideseek.classification` ->
:mod:`hideseek.explanation` -> :mod:`hideseek.protocol`.
"""

from __future__ import annotations

from typing import Any

from hideseek.errors import HideseekError

__all__ = ["HideseekError", "__version__", "audit"]
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    """Lazy exports: ``hideseek.audit`` imports torch only when used."""
    if name == "audit":
        from hideseek.models.api import audit

        return audit
    raise AttributeError(f"module 'hideseek' has no attribute {name!r}")
