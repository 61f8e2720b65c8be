"""Models: the architectures hideseek trains, and loading any classifier to audit.

Architectures (:mod:`~hideseek.models.architectures`): :func:`build_model` builds one of
:data:`ARCHITECTURES` (COVID-Net in :mod:`~hideseek.models.covidnet`) or a ``torchvision:`` /
``timm:`` / ``python:`` backbone (:mod:`~hideseek.models.foreign`) with our head, as a
:class:`Classifier` taking grey [0, 1] images.

Loading: :func:`load_model` turns a name or a file into a :class:`ModelAdapter`, the one object
the audit, evaluation, occlusion and Grad-CAM talk to; :func:`resolve_input` gives every kind its
input the same way.
"""

from __future__ import annotations

from hideseek.models.adapter import AdaptedModule, ModelAdapter, input_warning, label_matrix
from hideseek.models.architectures import (
    ARCHITECTURES,
    Classifier,
    build_model,
    check_architecture,
    target_layer,
)
from hideseek.models.covidnet import PEPX, CovidNet
from hideseek.models.foreign import Backbone, build_backbone
from hideseek.models.inputs import ModelInput, resolve_input, warn_random_weights
from hideseek.models.loaders import LOADERS, adapt, load_model, register_loader, resolve_model
from hideseek.models.spec import InputSpec, ModelSpec, load_model_spec, spec_from_flags

__all__ = ["ARCHITECTURES", "LOADERS", "PEPX", "AdaptedModule", "Backbone", "Classifier",
           "CovidNet", "InputSpec", "ModelAdapter", "ModelInput", "ModelSpec", "adapt",
           "build_backbone", "build_model", "check_architecture", "input_warning",
           "label_matrix", "load_model", "load_model_spec", "register_loader", "resolve_input",
           "resolve_model", "spec_from_flags", "target_layer", "warn_random_weights"]
