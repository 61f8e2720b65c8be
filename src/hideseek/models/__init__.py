"""Bring your own model: adapters, specs and loaders for any classifier.

:func:`load_model` turns a name or a file into a :class:`ModelAdapter`, the one object the
audit, evaluation, occlusion and Grad-CAM talk to; :func:`resolve_input` gives every kind its
input the same way.
"""

from hideseek.models.adapter import AdaptedModule, ModelAdapter, input_warning, label_matrix
from hideseek.models.inputs import ModelInput, resolve_input, warn_random_weights
from hideseek.models.loaders import LOADERS, adapt, load_model, register_loader, resolve_model
from hideseek.models.spec import InputSpec, ModelSpec, load_model_spec, spec_from_flags

__all__ = ["LOADERS", "AdaptedModule", "InputSpec", "ModelAdapter", "ModelInput", "ModelSpec",
           "adapt", "input_warning", "label_matrix", "load_model", "load_model_spec",
           "register_loader", "resolve_input", "resolve_model", "spec_from_flags",
           "warn_random_weights"]
