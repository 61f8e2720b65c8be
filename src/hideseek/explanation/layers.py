"""The Grad-CAM target layer of any ``nn.Module``, found with one dummy forward pass.

The target is the last module whose output is a spatial map (N x C x H x W) of at least
``min_cells`` x ``min_cells`` cells at the model's input size: deep enough to be class-specific,
fine enough to say which part of the image it points at. A vision transformer has no such map
after its patch embedding (the rest works on tokens): it is refused with the reason.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from hideseek.errors import HideseekError

__all__ = ["LayerOutput", "find_target_layer", "layer_outputs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerOutput:
    """One module's output in a dummy forward pass (in the order the modules finished)."""

    name: str
    shape: tuple[int, ...]

    @property
    def spatial(self) -> bool:
        """A 4-D map (N x C x H x W) with more than one cell."""
        return len(self.shape) == 4 and self.shape[2] * self.shape[3] > 1

    def cells(self) -> int:
        """The smaller side of the map (0 when not spatial)."""
        return min(self.shape[2], self.shape[3]) if self.spatial else 0


def layer_outputs(module: nn.Module, input_size: int, in_channels: int = 3) -> list[LayerOutput]:
    """Every submodule's output shape in one forward pass of a 1 x C x S x S dummy input.

    Hooks are removed in ``finally``, even when the forward pass fails.
    """
    seen: list[LayerOutput] = []
    handles = []

    def hook(name: str) -> Callable[[nn.Module, object, object], None]:
        def record(_m: nn.Module, _i: object, out: object) -> None:
            if isinstance(out, torch.Tensor):
                seen.append(LayerOutput(name, tuple(out.shape)))
        return record

    for name, sub in module.named_modules():
        if name:
            handles.append(sub.register_forward_hook(hook(name)))
    was_training = module.training
    try:
        with contextlib.suppress(NotImplementedError):  # torch.export programs
            module.eval()
        with torch.no_grad():
            param = next(module.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
            module(torch.zeros(1, in_channels, input_size, input_size, device=device))
    except Exception as exc:
        raise HideseekError(f"{type(module).__name__}: a dummy forward pass at {input_size} px "
                            f"failed ({exc})") from exc
    finally:
        for h in handles:
            h.remove()
        with contextlib.suppress(NotImplementedError):
            module.train(was_training)
    return seen


def _named(module: nn.Module, name: str, outputs: list[LayerOutput]) -> nn.Module:
    modules = dict(module.named_modules())
    if name in modules and name:
        return modules[name]
    candidates = list(dict.fromkeys(o.name for o in outputs if o.spatial))
    shown = ", ".join(candidates[-12:]) or "none"
    raise HideseekError(f"--target-layer {name!r} is not a layer of {type(module).__name__}; "
                        f"layers with a spatial output (deepest last): {shown}")


def _refuse_tokens(module: nn.Module, outputs: list[LayerOutput], last: LayerOutput) -> None:
    after = outputs[outputs.index(last) + 1:]
    if any(len(o.shape) == 3 for o in after):
        raise HideseekError(
            f"{type(module).__name__} looks like a vision transformer: after {last.name} it works "
            "on tokens (N x T x C), not on a spatial map, and hideseek does not reshape tokens "
            "to a grid for Grad-CAM; name a convolutional layer with --target-layer, or use "
            "occlusion instead")


def find_target_layer(module: nn.Module, input_size: int, min_cells: int = 7,
                      name: str | None = None, in_channels: int = 3) -> nn.Module:
    """The Grad-CAM target layer of ``module`` at ``input_size`` px.

    Args:
        module: The network (taking ``in_channels`` x ``input_size`` x ``input_size`` input).
        input_size: Input side in pixels.
        min_cells: Smallest acceptable side of the map; when no map is that fine (small
            inputs), the deepest spatial map is used, with a warning.
        name: A module name (``features.denseblock4``) to use instead.
        in_channels: Input channels of the dummy pass.

    Raises:
        HideseekError: An unknown ``name`` (the candidates listed), no spatial output at all,
            or a transformer working on tokens.
    """
    outputs = layer_outputs(module, input_size, in_channels)
    if name is not None:
        return _named(module, name, outputs)
    if not outputs:
        raise HideseekError(f"{type(module).__name__}: no layer output can be observed (a "
                            "TorchScript or torch.export graph hides its layers); Grad-CAM "
                            "needs the PyTorch module (our checkpoint, torchvision:, timm: or "
                            "python:); audit, evaluation and occlusion work as they are")
    spatial = [o for o in outputs if o.spatial]
    if not spatial:
        raise HideseekError(f"{type(module).__name__}: no layer has a spatial output at "
                            f"{input_size} px; Grad-CAM needs one")
    fine = [o for o in spatial if o.cells() >= min_cells]
    chosen = fine[-1] if fine else spatial[-1]
    _refuse_tokens(module, outputs, chosen)
    if not fine:
        log.warning("%s: no layer keeps %d x %d cells at %d px; using %s (%s)",
                    type(module).__name__, min_cells, min_cells, input_size, chosen.name,
                    "x".join(map(str, chosen.shape[2:])))
    return module.get_submodule(chosen.name)
