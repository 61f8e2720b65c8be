"""Classifier registry."""

from hideseek.classification.models.covidnet import PEPX, CovidNet
from hideseek.classification.models.registry import (
    ARCHITECTURES,
    Classifier,
    build_model,
    target_layer,
)

__all__ = ["ARCHITECTURES", "PEPX", "Classifier", "CovidNet", "build_model", "target_layer"]
