"""Deprecated alias of :mod:`hideseek.models.foreign`."""

from __future__ import annotations

from hideseek.models.foreign import (
    KINDS,
    Backbone,
    build_backbone,
    cached_weights,
    check_kind,
    import_factory,
    import_timm,
    replace_last_linear,
    timm_cached,
)

__all__ = ["KINDS", "Backbone", "build_backbone", "cached_weights", "check_kind",
           "import_factory", "import_timm", "replace_last_linear", "timm_cached"]
