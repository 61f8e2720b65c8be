"""Deprecated alias of the architectures, which live in :mod:`hideseek.models` now.

``hideseek.classification.models`` (and its ``registry``, ``covidnet`` and ``foreign``
submodules) re-export the same objects; import them from :mod:`hideseek.models` instead.
Nothing in the package imports this module.
"""

from __future__ import annotations

import warnings

from hideseek.models.architectures import (
    ARCHITECTURES,
    Classifier,
    build_model,
    check_architecture,
    target_layer,
)
from hideseek.models.covidnet import PEPX, CovidNet

__all__ = ["ARCHITECTURES", "PEPX", "Classifier", "CovidNet", "build_model",
           "check_architecture", "target_layer"]

warnings.warn("hideseek.classification.models is deprecated: import the architectures from "
              "hideseek.models", DeprecationWarning, stacklevel=2)
