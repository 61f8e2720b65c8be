"""Classifier registry: the paper's models, COVID-Net, and ``torchvision:`` / ``timm:`` /
``python:`` architectures with our head."""

from hideseek.classification.models.covidnet import PEPX, CovidNet
from hideseek.classification.models.registry import (
    ARCHITECTURES,
    Classifier,
    build_model,
    check_architecture,
    target_layer,
)

__all__ = ["ARCHITECTURES", "PEPX", "Classifier", "CovidNet", "build_model",
           "check_architecture", "target_layer"]
