"""Test-time augmentation: lung probabilities averaged over flipped, rescaled, re-exposed views.

A horizontal flip is valid for a binary lung mask (both lungs are one class, so the flipped
prediction flipped back is still a prediction of the same mask). The scale views run the
network at one ``multiple`` below and above its input side; the intensity views apply a gamma
curve of 0.8 and 1.25. All views' probabilities are averaged before the 0.5 threshold.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hideseek.runtime import Runtime

__all__ = ["TTA_VIEWS", "lung_probability"]

#: The views averaged by ``tta=True``, in order.
TTA_VIEWS = ("identity", "hflip", "smaller", "larger", "gamma 0.8", "gamma 1.25")

def _forward(model: torch.nn.Module, x: torch.Tensor, rt: Runtime) -> torch.Tensor:
    with rt.autocast():
        logits = model(x)
    return logits.float().softmax(1)[:, 1:2]


def _rescaled(model: torch.nn.Module, x: torch.Tensor, rt: Runtime, side: int) -> torch.Tensor:
    small = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
    prob = _forward(model, small, rt)
    return F.interpolate(prob, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)


def lung_probability(model: torch.nn.Module, x: torch.Tensor, rt: Runtime,
                     tta: bool = False) -> torch.Tensor:
    """Lung-class probability of a batch, optionally averaged over :data:`TTA_VIEWS`.

    Args:
        model: Segmentation network (N x 1 x S x S in [0, 1] -> N x 2 x S x S logits) with a
            ``multiple`` attribute.
        x: The batch, on the model's device.
        rt: Device and precision.
        tta: Average the views of :data:`TTA_VIEWS` instead of one forward pass.

    Returns:
        N x 1 x S x S probabilities (fp32).
    """
    prob = _forward(model, x, rt)
    if not tta:
        return prob
    side, step = x.shape[-1], int(getattr(model, "multiple", 1))
    views = [prob, _forward(model, x.flip(-1), rt).flip(-1)]
    if side - step >= step:
        views.append(_rescaled(model, x, rt, side - step))
    views.append(_rescaled(model, x, rt, side + step))
    for gamma in (0.8, 1.25):
        views.append(_forward(model, x.clamp(0, 1) ** gamma, rt))
    return torch.stack(views).mean(0)
