"""Bring your own model: adapters, specs and loaders for any classifier.

:func:`load_model` turns a name or a file into a :class:`ModelAdapter`, the one object the
audit, evaluation, occlusion and Grad-CAM talk to.
"""

from hideseek.models.adapter import AdaptedModule, ModelAdapter, input_warning, label_matrix
from hideseek.models.loaders import LOADERS, load_model, register_loader, resolve_model
from hideseek.models.spec import InputSpec, ModelSpec, load_model_spec, spec_from_flags

__all__ = ["LOADERS", "AdaptedModule", "InputSpec", "ModelAdapter", "ModelSpec", "input_warning",
           "label_matrix", "load_model", "load_model_spec", "register_loader", "resolve_model",
           "spec_from_flags"]
