"""The architectures hideseek trains, looked up by name: the paper's, COVID-Net, and
``torchvision:`` / ``timm:`` / ``python:`` backbones with our head (grayscale input, ImageNet
weights when available)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn

from hideseek.errors import HideseekError
from hideseek.models.covidnet import CovidNet
from hideseek.models.foreign import (
    build_backbone,
    cached_weights,
    check_kind,
    import_factory,
    import_timm,
)

__all__ = ["ARCHITECTURES", "Classifier", "build_model", "cached_weights", "check_architecture",
           "check_input_size", "import_factory", "import_timm", "target_layer"]

log = logging.getLogger(__name__)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

#: name -> description (a torchvision builder of that name, or ``covidnet``)
ARCHITECTURES: dict[str, str] = {
    "alexnet": "AlexNet (torchvision), last layer replaced",
    "vgg11": "VGG-11 (torchvision), last layer replaced",
    "vgg11_bn": "VGG-11 with batch norm (torchvision; the authors' choice)",
    "resnet18": "ResNet-18 (torchvision), fc replaced",
    "resnet50": "ResNet-50 (torchvision), fc replaced",
    "covidnet": "COVID-Net built from PEPX modules (ours), random initialisation",
}


def _replace_head(model: nn.Module, arch: str, num_classes: int) -> None:
    if arch.startswith("resnet"):
        fc = model.fc
        assert isinstance(fc, nn.Linear)
        model.fc = nn.Linear(fc.in_features, num_classes)
    else:  # alexnet, vgg: the last Linear of the classifier
        classifier = model.classifier
        assert isinstance(classifier, nn.Sequential)
        last = classifier[-1]
        assert isinstance(last, nn.Linear)
        classifier[-1] = nn.Linear(last.in_features, num_classes)


class Classifier(nn.Module):
    """A backbone that takes 1-channel [0, 1] images.

    The grayscale image is replicated to three channels and normalised with the ImageNet
    statistics, so ImageNet weights see the input they were trained on.

    Attributes:
        arch: Registry name.
        backbone: The network proper (Grad-CAM target layers live here).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, arch: str, backbone: nn.Module, init: str = "random",
                 mean: tuple[float, ...] = _IMAGENET_MEAN,
                 std: tuple[float, ...] = _IMAGENET_STD) -> None:
        super().__init__()
        self.arch = arch
        self.init = init  # "random" or the name of the loaded weights (reported with results)
        self.backbone = backbone
        self.in_channels = len(mean)  # 1: the grey image as is; 3: replicated
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1 and self.in_channels == 3:
            x = x.expand(-1, 3, -1, -1)
        return self.backbone((x - self.mean) / self.std)


def build_model(arch: str, num_classes: int = 3, pretrained: bool = True) -> Classifier:
    """Build a classifier by name.

    Args:
        arch: One of :data:`ARCHITECTURES`, or ``torchvision:<name>``, ``timm:<name>``,
            ``python:package.module:factory`` (head replaced for ``num_classes``).
        num_classes: Output classes.
        pretrained: Load ImageNet weights through torchvision's weights API when they are in the
            local torch hub cache; otherwise say so and initialise randomly (``covidnet`` is
            always random, as in the paper).
    """
    if ":" in arch:
        b = build_backbone(arch, num_classes, pretrained)
        return Classifier(arch, b.module, b.init, b.mean, b.std)
    if arch not in ARCHITECTURES:
        raise HideseekError(f"unknown architecture {arch!r}; choose from "
                            f"{', '.join(ARCHITECTURES)}, or torchvision:NAME, timm:NAME, "
                            "python:package.module:factory")
    if arch == "covidnet":
        return Classifier(arch, CovidNet(num_classes))
    weights = None
    if pretrained:
        weights = cached_weights(arch)
        if weights is None:
            log.warning("ImageNet weights for %s are not in the local cache (%s); using random "
                        "initialisation. Download them once with torchvision (e.g. "
                        "torchvision.models.get_model(%r, weights='DEFAULT')) on a machine with "
                        "internet access, or pass --no-pretrained to silence this.", arch,
                        Path(torch.hub.get_dir()) / "checkpoints", arch)
    backbone = torchvision.models.get_model(arch, weights=weights)
    _replace_head(backbone, arch, num_classes)
    return Classifier(arch, backbone, init=str(weights) if weights is not None else "random")


def check_input_size(model: nn.Module, arch: str, size: int) -> None:
    """Refuse an input size the network cannot take, before any training (one forward pass
    of a blank image; AlexNet, for one, needs at least 63 px).

    Raises:
        HideseekError: The forward pass fails; the message names the architecture and size.
    """
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, size, size))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HideseekError(f"{arch} cannot take {size} x {size} images ({first}); use a "
                            "larger image_size") from None
    finally:
        model.train(was)


_TARGETS: dict[str, Callable[[Any], list[nn.Module]]] = {
    "resnet": lambda b: [b.layer4[-1], b.layer3[-1], b.layer2[-1], b.layer1[-1]],
    "vgg": lambda b: _relus(b.features),
    "alexnet": lambda b: _relus(b.features),
    "covidnet": lambda b: list(b.features.children())[::-1],
}


def check_architecture(name: str) -> str:
    """Check an architecture name without building it (for config validators).

    Raises:
        ValueError: Neither one of :data:`ARCHITECTURES` nor a known ``kind:NAME``.
    """
    if name in ARCHITECTURES:
        return name
    if ":" not in name:
        raise ValueError(f"unknown architecture {name!r}; choose from "
                         f"{', '.join(ARCHITECTURES)}, or torchvision:NAME, timm:NAME, "
                         "python:package.module:factory")
    check_kind(name)
    return name


def _relus(features: nn.Module) -> list[nn.Module]:
    """The ReLUs of ``features``, deepest first."""
    relus: list[nn.Module] = []
    relus.extend(m for m in features.modules() if isinstance(m, nn.ReLU))
    relus.reverse()
    if not relus:
        raise HideseekError("no ReLU in the feature extractor")
    return relus


@torch.no_grad()
def _grid_sizes(model: Classifier, layers: list[nn.Module], input_size: int) -> list[int]:
    """The smaller side of each layer's output for one ``input_size`` x ``input_size`` image."""
    sizes: dict[int, int] = {}

    def record(mod: nn.Module, _i: object, out: torch.Tensor) -> None:
        sizes.setdefault(id(mod), int(min(out.shape[-2:])))

    hooks = [m.register_forward_hook(record) for m in layers]
    was_training = model.training
    try:
        model.eval()  # no batch-norm statistics are updated by the probe
        device = next(model.parameters()).device
        model(torch.zeros(1, 1, input_size, input_size, device=device))
    except RuntimeError:  # too small for the whole network: the layers reached still count
        log.debug("%s: forward pass at %d px failed; sizes of the layers reached",
                  model.arch, input_size)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return [sizes.get(id(m), 0) for m in layers]


def target_layer(model: Classifier, input_size: int | None = None, min_cells: int = 7,
                 name: str | None = None) -> nn.Module:
    """The Grad-CAM target layer.

    Without ``input_size``: ResNet ``layer4[-1]``, VGG / AlexNet the last ReLU of ``features``,
    COVID-Net its last stage. With it: the deepest of those candidates (ResNet ``layer4``,
    ``layer3``, ``layer2``, ``layer1``; VGG / AlexNet each ReLU of ``features``; COVID-Net each
    stage) whose map has at least ``min_cells`` x ``min_cells`` cells at that input size, so
    small inputs are not explained by a 2 x 2 or 3 x 3 map; the finest candidate when none has.
    Other architectures (``kind:NAME``), or a layer named by ``name``: the one
    :func:`hideseek.explanation.layers.find_target_layer` finds.
    """
    if name is not None or ":" in model.arch:
        from hideseek.explanation.layers import find_target_layer

        return find_target_layer(model.backbone, input_size or 224, min_cells=min_cells,
                                 name=name, in_channels=model.in_channels)
    for prefix, pick in _TARGETS.items():
        if model.arch.startswith(prefix):
            layers = pick(model.backbone)
            if input_size is None:
                return layers[0]
            sizes = _grid_sizes(model, layers, input_size)
            fine = [m for m, s in zip(layers, sizes, strict=True) if s >= min_cells]
            return fine[0] if fine else layers[int(np.argmax(sizes))]
    raise HideseekError(f"no Grad-CAM target layer known for {model.arch!r}")
