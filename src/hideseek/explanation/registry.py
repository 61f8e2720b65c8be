"""The explainer registry: each attribution method is a small spec object looked up by name.

Adding an explainer is one module with a class whose call returns a :class:`CamBatch` and one
:func:`register_explainer` call; ``run_cam(..., method=name)`` and ``hideseek cam --method``
then use it. The built-ins are ``gradcam`` and ``occlusion``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from hideseek.errors import HideseekError
from hideseek.explanation.gradcam import CamBatch, GradCAM
from hideseek.explanation.occlusion import OcclusionMap
from hideseek.models.architectures import Classifier, target_layer

__all__ = ["Explainer", "ExplainerSpec", "explainer_names", "get_explainer",
           "register_explainer"]


class Explainer(Protocol):
    """Maps for a batch: ``targets`` names -> class index per image (None: predicted class)."""

    def __call__(self, x: torch.Tensor, targets: dict[str, torch.Tensor | None],
                 autocast: bool = False) -> CamBatch: ...


@dataclass(frozen=True)
class ExplainerSpec:
    """One attribution method.

    Attributes:
        name: Registry key (``--method``).
        factory: ``(model, input_size) -> Explainer``; ``input_size`` is the side of the images
            it will explain (for choosing a layer of enough resolution), None when unknown.
        needs_gradients: Whether the method back-propagates (the runner keeps autograd on).
        description: One line for help texts and reports.
    """

    name: str
    factory: Callable[[nn.Module, int | None], Explainer]
    needs_gradients: bool = True
    description: str = ""


_REGISTRY: dict[str, ExplainerSpec] = {}


def register_explainer(spec: ExplainerSpec, replace: bool = False) -> ExplainerSpec:
    """Add ``spec`` to the registry (``replace`` to override an existing name)."""
    if spec.name in _REGISTRY and not replace:
        raise HideseekError(f"an explainer named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_explainer(name: str) -> ExplainerSpec:
    """The spec registered as ``name``."""
    if name not in _REGISTRY:
        raise HideseekError(f"unknown explanation method {name!r}; choose from "
                            f"{', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def explainer_names() -> tuple[str, ...]:
    """Registered names, in registration order."""
    return tuple(_REGISTRY)


def _gradcam(model: nn.Module, input_size: int | None) -> Explainer:
    if not isinstance(model, Classifier):
        raise HideseekError("gradcam needs a hideseek Classifier (its target layer is looked "
                            "up by architecture)")
    return GradCAM(model, target_layer(model, input_size))


register_explainer(ExplainerSpec(
    "gradcam", _gradcam, True, "Grad-CAM at the deepest layer with >= 7 x 7 cells"))
register_explainer(ExplainerSpec(
    "occlusion", lambda model, _size: OcclusionMap(model), False,
    "occlusion sensitivity on an 8 x 8 grid (zero fill)"))
