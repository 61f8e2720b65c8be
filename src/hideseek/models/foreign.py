"""Backbones named by kind: ``torchvision:<name>``, ``timm:<name>``, ``python:pkg.mod:factory``.

Each is built with its classification head replaced for our classes: timm's
``reset_classifier``, otherwise the last ``nn.Linear`` of the module (torchvision's ``fc``,
``classifier`` or ``heads.head``, whatever it is called).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torchvision
from torch import nn

from hideseek.errors import HideseekError

__all__ = ["KINDS", "Backbone", "build_backbone", "cached_weights", "check_kind",
           "import_factory", "import_timm", "replace_last_linear", "timm_cached"]

log = logging.getLogger(__name__)

KINDS = ("torchvision", "timm", "python")


@dataclass
class Backbone:
    """A network with our head, and how to feed it.

    Attributes:
        module: The network.
        init: ``random`` or the name of the loaded weights.
        in_channels: 1 (fed our grey [0, 1] image as is) or 3 (replicated and normalised).
        mean: Per-channel normalisation mean (3 channels).
        std: Per-channel normalisation std.
    """

    module: nn.Module
    init: str = "random"
    in_channels: int = 3
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)


def cached_weights(name: str) -> Any:
    """torchvision's default weights of ``name`` when in the local hub cache, else None."""
    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        return None
    file = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    return weights if file.is_file() else None


def import_timm() -> ModuleType:
    """The ``timm`` package, or a clear error naming the extra to install."""
    try:
        return importlib.import_module("timm")
    except ImportError as exc:
        raise HideseekError("timm: models need the timm package (pip install "
                            "'hideseek[timm]')") from exc


def import_factory(target: str) -> Any:
    """The callable named by ``package.module:factory``."""
    mod_name, sep, attr = target.partition(":")
    if not sep or not mod_name or not attr:
        raise HideseekError(f"python:{target}: expected python:package.module:factory")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise HideseekError(f"python:{target}: cannot import {mod_name} ({exc})") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise HideseekError(f"python:{target}: {mod_name} has no callable {attr!r}")
    return fn


def replace_last_linear(module: nn.Module, num_classes: int) -> None:
    """Replace the last ``nn.Linear`` of ``module`` by one with ``num_classes`` outputs."""
    linears = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise HideseekError(f"{type(module).__name__}: no nn.Linear head to replace")
    name, last = linears[-1]
    parent = module.get_submodule(name.rpartition(".")[0]) if "." in name else module
    setattr(parent, name.rpartition(".")[2], nn.Linear(last.in_features, num_classes))


def timm_cached(name: str) -> bool:
    """True when timm's pretrained weights of ``name`` are in the local Hugging Face cache."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False
    return any(Path(HF_HUB_CACHE).glob(f"models--timm--{name}*"))


def _timm(name: str, num_classes: int, pretrained: bool) -> Backbone:
    timm = import_timm()
    if name not in timm.list_models():
        raise HideseekError(f"timm has no model {name!r}")
    use = pretrained and timm_cached(name)
    if pretrained and not use:
        log.warning("timm:%s: pretrained weights are not in the local Hugging Face cache; "
                    "using random initialisation", name)
    module = timm.create_model(name, pretrained=use)
    module.reset_classifier(num_classes)
    cfg = getattr(module, "pretrained_cfg", {}) or {}
    return Backbone(module, f"timm:{name}" if use else "random", 3,
                    tuple(cfg.get("mean", Backbone.mean)), tuple(cfg.get("std", Backbone.std)))


def _torchvision(name: str, num_classes: int, pretrained: bool) -> Backbone:
    if name not in torchvision.models.list_models(torchvision.models):
        raise HideseekError(f"torchvision has no classification model {name!r}")
    weights = cached_weights(name) if pretrained else None
    if pretrained and weights is None:
        log.warning("torchvision:%s: ImageNet weights are not in the local cache; using "
                    "random initialisation", name)
    module = torchvision.models.get_model(name, weights=weights)
    replace_last_linear(module, num_classes)
    return Backbone(module, str(weights) if weights is not None else "random")


def _python(target: str, num_classes: int, pretrained: bool) -> Backbone:
    fn = import_factory(target)
    params = inspect.signature(fn).parameters
    module = fn(num_classes=num_classes) if "num_classes" in params else fn()
    if not isinstance(module, nn.Module):
        raise HideseekError(f"python:{target}: the factory returned {type(module).__name__}, "
                            "not an nn.Module")
    if "num_classes" not in params:
        replace_last_linear(module, num_classes)
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    channels = convs[0].in_channels if convs else 3
    if channels == 1:
        return Backbone(module, "factory", 1, (0.0,), (1.0,))
    return Backbone(module, "factory")


def check_kind(name: str) -> tuple[str, str]:
    """Split ``kind:rest`` and check the kind; raises ``ValueError`` (for validators)."""
    kind, _, rest = name.partition(":")
    if kind not in KINDS or not rest:
        raise ValueError(f"unknown architecture {name!r}; prefixed names are "
                         + ", ".join(f"{k}:NAME" for k in KINDS))
    return kind, rest


def build_backbone(name: str, num_classes: int, pretrained: bool) -> Backbone:
    """The backbone named ``kind:rest`` with a ``num_classes`` head."""
    try:
        kind, rest = check_kind(name)
    except ValueError as exc:
        raise HideseekError(str(exc)) from exc
    builder = {"torchvision": _torchvision, "timm": _timm, "python": _python}[kind]
    return builder(rest, num_classes, pretrained)
