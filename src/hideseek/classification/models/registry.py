"""Deprecated alias of :mod:`hideseek.models.architectures`."""

from __future__ import annotations

from hideseek.models.architectures import (
    ARCHITECTURES,
    Classifier,
    build_model,
    cached_weights,
    check_architecture,
    import_factory,
    import_timm,
    target_layer,
)

__all__ = ["ARCHITECTURES", "Classifier", "build_model", "cached_weights", "check_architecture",
           "import_factory", "import_timm", "target_layer"]
