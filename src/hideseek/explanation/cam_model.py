"""Any model the loaders give, as the module Grad-CAM and occlusion run on, with its layer.

:func:`cam_model` is the one place where a model path / ``kind:name`` / adapter becomes what
:func:`hideseek.explanation.runner.cam_dataset` explains: a module taking our grey [0, 1]
images and returning logits (or log-probabilities) of the task's classes, the Grad-CAM target layer
and the dataset settings the model expects. A model without a PyTorch module (ONNX, a plain
callable) is wrapped around :meth:`ModelAdapter.predict_proba`: occlusion works, Grad-CAM is
refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hideseek.classification.checkpoint import KIND as CHECKPOINT_KIND
from hideseek.classification.config import config_from_meta
from hideseek.classification.data import representation_dataset
from hideseek.data.manifest import CXRDataset, Record
from hideseek.errors import HideseekError
from hideseek.explanation.gradcam import GradCAM
from hideseek.explanation.layers import find_target_layer
from hideseek.explanation.registry import Explainer, get_explainer
from hideseek.models.adapter import ModelAdapter
from hideseek.models.architectures import ARCHITECTURES, Classifier, target_layer
from hideseek.models.loaders import resolve_model
from hideseek.models.spec import ModelSpec
from hideseek.task import Task

__all__ = ["CamModel", "ProbaModule", "cam_model", "make_explainer"]


class ProbaModule(nn.Module):
    """A forward-only model (ONNX, a callable) as a module: log-probabilities of our labels
    from :meth:`ModelAdapter.predict_proba` (so ``softmax`` gives the probabilities back)."""

    def __init__(self, adapter: ModelAdapter) -> None:
        super().__init__()
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prob = torch.from_numpy(self.adapter.predict_proba(x.detach().float().cpu()))
        return prob.clamp_min(1e-8).log().to(x.device)


@dataclass
class CamModel:
    """A model ready for :func:`~hideseek.explanation.runner.cam_dataset`.

    Attributes:
        module: Grey [0, 1] images in, logits of the dataset's classes out.
        layer: The Grad-CAM target layer (None: forward only, or not asked for).
        adapter: The loaded model.
        meta: ``arch``, ``classes``, ``config`` (our checkpoints) of the model.
        model_dir: Folder of the model's ``splits.csv`` (None for ``kind:name`` models).
        no_gradcam: Why Grad-CAM cannot run on this model (None when it can).
    """

    module: nn.Module
    layer: nn.Module | None
    adapter: ModelAdapter
    meta: dict[str, Any] = field(default_factory=dict)
    model_dir: Path | None = None
    no_gradcam: str | None = None

    def dataset(self, data: CXRDataset, records: list[Record], representation: str,
                masks_dir: Path, cache: str | Path, originals: set[str]) -> Any:
        """``representation`` of ``records`` as the model expects it (size, crop, padding)."""
        inp = self.adapter.input
        cfg = config_from_meta(self.meta, representation).model_copy(
            update={"image_size": inp.size, "crop_top": inp.crop_top})
        # e.g. TorchXRayVision: padded to a square, not cropped
        return representation_dataset(data, records, cfg, masks_dir, cache, train=False,
                                      originals=originals, square=inp.square)


def model_dir_of(source: Any) -> Path | None:
    if not isinstance(source, str | Path) or not Path(source).exists():
        return None
    return Path(source) if Path(source).is_dir() else Path(source).parent


def _layer(module: nn.Module, adapter: ModelAdapter, name: str | None) -> nn.Module:
    """Our registry architectures: their known layers; anything else: found (or named)."""
    size = adapter.input.size
    if isinstance(module, Classifier):
        if name is None and module.arch in ARCHITECTURES:
            return target_layer(module, size)
        return find_target_layer(module.backbone, size, name=name,
                                 in_channels=module.in_channels)
    inner = adapter.module
    assert inner is not None
    if isinstance(inner, torch.jit.ScriptModule):
        raise HideseekError(f"{adapter.name}: Grad-CAM cannot hook the layers of a TorchScript "
                            "graph; give the PyTorch module (our checkpoint, torchvision:, "
                            "timm:, python:) or use --method occlusion")
    return find_target_layer(inner, size, name=name, in_channels=adapter.input.channels)


def cam_model(model: Any, *, spec: ModelSpec | None = None, arch: str | None = None,
              target_layer: str | None = None, method: str = "gradcam",
              task: Task | None = None) -> CamModel:
    """The module, target layer and settings to explain ``model`` with ``method``.

    Args:
        model: Anything :func:`hideseek.models.resolve_model` takes (a training folder, a file,
            ``torchvision:NAME``, ``timm:NAME``, ``xrv:NAME``, ``python:...``, an adapter).
        spec: The model spec of a foreign model.
        arch: Architecture of a plain state dict.
        target_layer: A module name (``features.denseblock4``) instead of the found layer.
        method: The explainer; only ``gradcam`` needs a PyTorch module and a layer.
        task: The dataset's task: a model trained elsewhere answers its classes (a hideseek
            checkpoint keeps its own).

    Raises:
        HideseekError: Grad-CAM on a forward-only model (ONNX) with the reason, an unknown
            ``target_layer`` (candidates listed), a vision transformer, or a loading error.
    """
    adapter = resolve_model(model, spec, arch)
    meta, mdir = adapter.meta, model_dir_of(model)
    ours = meta.get("kind") == CHECKPOINT_KIND
    if task is not None and not ours and adapter.spec.target == "label":
        adapter.bind(task)
    if adapter.module is None:
        reason = (f"{adapter.name}: Grad-CAM needs a PyTorch module: {adapter.no_module_reason}"
                  "; occlusion works (--method occlusion)")
        if method == "gradcam":
            raise HideseekError(reason)
        return CamModel(ProbaModule(adapter), None, adapter, meta, mdir, reason)
    # our checkpoints' logits are their task's classes already
    own = isinstance(adapter.module, Classifier) and (ours or adapter.spec.target == "source")
    module: nn.Module = adapter.module if own else adapter.cam_module()
    layer = _layer(module, adapter, target_layer) if method == "gradcam" else None
    return CamModel(module, layer, adapter, meta, mdir)


def make_explainer(method: str, module: nn.Module, layer: nn.Module | None,
                   input_size: int | None) -> Explainer:
    """``method``'s explainer; Grad-CAM on ``layer`` when one is given."""
    if method == "gradcam" and layer is not None:
        return GradCAM(module, layer)
    return get_explainer(method).factory(module, input_size)
