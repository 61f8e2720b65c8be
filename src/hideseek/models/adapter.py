"""The one object audit, evaluation, occlusion and Grad-CAM talk to: a model with its spec.

:class:`ModelAdapter` turns our images (grey, [0, 1]) into the input a model expects, runs it
(an ``nn.Module``, an ONNX session or any callable) and turns its outputs into probabilities of
our three labels, in :data:`hideseek.data.labels.LABELS` order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hideseek.data.labels import LABELS
from hideseek.errors import HideseekError
from hideseek.models.spec import InputSpec, ModelSpec
from hideseek.runtime import Runtime

__all__ = ["AdaptedModule", "InputSpec", "ModelAdapter", "input_warning", "label_matrix"]

log = logging.getLogger(__name__)


def label_matrix(spec: ModelSpec, n_outputs: int, where: str = "model") -> np.ndarray:
    """K x 3 matrix: entry (k, j) is 1 when output k counts for label ``LABELS[j]``.

    Raises:
        HideseekError: Undeclared class order, a class count that does not match the model's
            outputs, or (softmax / probabilities) an output that maps to none of our labels.
    """
    classes = spec.require_classes(where)
    if spec.normal == "one_minus_max" and spec.activation != "sigmoid":
        raise HideseekError(f"{where}: normal: one_minus_max needs activation: sigmoid")
    if len(classes) != n_outputs:
        raise HideseekError(f"{where}: the model has {n_outputs} outputs but the spec declares "
                            f"{len(classes)} classes ({', '.join(classes)})")
    m = np.zeros((n_outputs, len(LABELS)), dtype=np.float32)
    unmapped = []
    for k, name in enumerate(classes):
        label = spec.label_of(name)
        if label is None:
            unmapped.append(name)
        else:
            m[k, LABELS.index(label)] = 1.0
    if unmapped and spec.activation != "sigmoid":
        raise HideseekError(f"{where}: outputs {unmapped} map to none of {', '.join(LABELS)}; "
                            "add them to mapping: in the spec")
    if spec.normal == "mapped" and spec.target == "label" and not m[:, 0].any():
        raise HideseekError(f"{where}: no output maps to 'normal'; map one (e.g. No Finding: "
                            "normal) or set normal: one_minus_max (sigmoid)")
    return m


def input_warning(x: torch.Tensor, spec: InputSpec,
                  native_range: tuple[float, float] | None) -> str | None:
    """A plain-words warning when a model input batch does not look like what it expects.

    With ``native_range`` (what the loader knows the model was trained on) the batch's span is
    compared with it; otherwise with the spec's declared range (or, after mean / std
    normalisation, with a standardised input).
    """
    lo, hi = float(x.min()), float(x.max())
    if native_range is None and spec.mean is not None:
        mean, std = float(x.mean()), float(x.std())
        if abs(mean) < 5 and 0.02 < std < 20:
            return None
        return (f"the model input after normalisation has mean {mean:.3g} and std {std:.3g}, "
                "far from a standardised input: check input.mean / input.std in the spec")
    elo, ehi = native_range or spec.range
    span = ehi - elo
    where = "the model was trained on" if native_range else "the spec declares"
    if lo < elo - 0.05 * span or hi > ehi + 0.05 * span or (hi - lo) < 0.05 * span:
        return (f"{where} inputs in [{elo:g}, {ehi:g}] but this batch spans [{lo:.3g}, "
                f"{hi:.3g}] (spec input.range [{spec.range[0]:g}, {spec.range[1]:g}]); its "
                "outputs are probably meaningless: check input.range (and mean / std) in the "
                "model spec")
    return None


def prepare(x: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Our [0, 1] grey batch (N x 1 x H x W) as the model's input."""
    if x.ndim != 4 or x.shape[1] != 1:
        raise HideseekError(f"expected a N x 1 x H x W batch in [0, 1], got {tuple(x.shape)}")
    x = x.float()
    if x.shape[-2:] != (spec.size, spec.size):
        x = F.interpolate(x, size=(spec.size, spec.size), mode="bilinear", align_corners=False)
    lo, hi = spec.range
    if (lo, hi) != (0.0, 1.0):
        x = x * (hi - lo) + lo
    if spec.channels == 3:
        x = x.expand(-1, 3, -1, -1)
    if spec.mean is not None:
        x = x - torch.tensor(spec.mean, device=x.device).view(1, -1, 1, 1)
    if spec.std is not None:
        x = x / torch.tensor(spec.std, device=x.device).view(1, -1, 1, 1)
    return x.contiguous()


def to_probabilities(raw: torch.Tensor, spec: ModelSpec, m: np.ndarray | None) -> torch.Tensor:
    """Raw outputs (N x K) -> probabilities of our labels (N x 3), or of the sources."""
    raw = raw.float()
    if spec.activation == "sigmoid":
        s = raw.sigmoid()
    elif spec.activation == "softmax":
        s = raw.softmax(1)
    else:
        s = raw
    if m is None:  # target: source
        return s
    mt = torch.from_numpy(m).to(s.device)
    if spec.activation != "sigmoid":
        return s @ mt
    scores = (s.unsqueeze(2) * mt.unsqueeze(0)).amax(1)  # N x 3: best output per label
    if spec.normal == "one_minus_max":
        # not in place: Grad-CAM back-propagates through these scores
        scores = torch.cat([1.0 - scores[:, 1:].amax(1, keepdim=True), scores[:, 1:]], 1)
    return scores / scores.sum(1, keepdim=True).clamp_min(1e-8)


class AdaptedModule(nn.Module):
    """An ``nn.Module`` with the adapter's input preparation and output mapping built in:
    [0, 1] grey images in, logits of our labels out (for Grad-CAM and occlusion)."""

    def __init__(self, module: nn.Module, spec: ModelSpec, m: np.ndarray | None) -> None:
        super().__init__()
        self.inner, self.spec, self.m = module, spec, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.inner(prepare(x, self.spec.input))
        if self.m is None:
            return raw
        permutation = self.m.shape == (3, 3) and bool((self.m.sum(0) == 1).all())
        if self.spec.activation == "softmax" and permutation:
            return raw @ torch.from_numpy(self.m).to(raw.device, raw.dtype)
        return to_probabilities(raw, self.spec, self.m).clamp_min(1e-8).log()


class ModelAdapter:
    """A model, what it expects and what its outputs mean.

    Args:
        forward: Runs the prepared input batch; returns raw outputs (tensor or array, N x K).
        spec: Class order, activation, label mapping and input.
        module: The ``nn.Module`` (for Grad-CAM), or None with ``no_module_reason``.
        name: Shown in messages (a path, ``torchvision:densenet121``...).
        native_range: The input range the model is known to be trained on (for the input check).
        meta: Metadata of our checkpoints (``arch``, ``classes``, ``config``).
    """

    def __init__(self, forward: Callable[[torch.Tensor], Any], spec: ModelSpec,
                 module: nn.Module | None = None, *, name: str = "model",
                 no_module_reason: str | None = None,
                 native_range: tuple[float, float] | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.forward, self.spec, self.module, self.name = forward, spec, module, name
        self.no_module_reason = no_module_reason or "this model has no PyTorch module"
        self.native_range, self.meta = native_range, dict(meta or {})
        self.meta.setdefault("arch", name)
        self.runtime = Runtime(device="cpu", amp=False, channels_last=False)
        self._matrix: np.ndarray | None = None
        self._checked = False
        if spec.target == "label":
            spec.require_classes(name)

    @classmethod
    def from_module(cls, module: nn.Module, spec: ModelSpec, **kw: Any) -> ModelAdapter:
        """Adapter of an in-memory ``nn.Module`` (put in eval mode where it allows it)."""
        with contextlib.suppress(NotImplementedError):  # torch.export programs: always eval
            module.eval()
        return cls(module, spec, module, **kw)

    @property
    def classes(self) -> list[str]:
        """Output names in output order."""
        return list(self.spec.classes or [])

    @property
    def labels(self) -> list[str]:
        """Column names of :meth:`predict_proba`: our labels (or the sources of a probe)."""
        return self.classes if self.spec.target == "source" else list(LABELS)

    @property
    def input(self) -> InputSpec:
        """The input the model expects."""
        return self.spec.input

    def to(self, runtime: Runtime) -> ModelAdapter:
        """Run on ``runtime``'s device and precision (ONNX stays on its own provider)."""
        self.runtime = runtime
        if self.module is not None and self.forward is self.module:
            try:
                self.module = self.forward = runtime.model(self.module)
            except (NotImplementedError, RuntimeError) as exc:  # a torch.export program
                log.debug("%s stays where it is (%s)", self.name, exc)
                self.runtime = Runtime(device="cpu", amp=runtime.amp, channels_last=False)
        return self

    def _outputs_to_labels(self, raw: torch.Tensor) -> torch.Tensor:
        if raw.ndim != 2:
            raise HideseekError(f"{self.name}: expected N x K outputs, got {tuple(raw.shape)}")
        if self.spec.target == "source":
            if raw.shape[1] != len(self.classes):
                raise HideseekError(f"{self.name}: {raw.shape[1]} outputs but "
                                    f"{len(self.classes)} classes declared")
            return to_probabilities(raw, self.spec, None)
        if self._matrix is None:
            self._matrix = label_matrix(self.spec, raw.shape[1], self.name)
        return to_probabilities(raw, self.spec, self._matrix)

    def _check(self, x: torch.Tensor) -> None:
        if self._checked:
            return
        self._checked = True
        msg = input_warning(x, self.spec.input, self.native_range)
        if msg:
            log.warning("%s: %s", self.name, msg)

    def predict_proba(self, x: torch.Tensor) -> np.ndarray:
        """Probabilities (N x 3, ``LABELS`` order) of a [0, 1] grey batch (N x 1 x H x W)."""
        rt = self.runtime
        with torch.no_grad():
            inp = prepare(rt.batch(x), self.spec.input)
            self._check(inp)
            if rt.channels_last:
                inp = inp.contiguous(memory_format=torch.channels_last)
            try:
                with rt.autocast():
                    raw = self.forward(inp)
            except (RuntimeError, ValueError, AssertionError) as exc:
                raise HideseekError(f"{self.name}: the model fails on a {tuple(inp.shape)} "
                                    f"batch ({exc}); check input.size and input.channels in "
                                    "the model spec") from exc
            raw_t = torch.as_tensor(np.asarray(raw)) if not torch.is_tensor(raw) else raw
            return self._outputs_to_labels(raw_t).float().cpu().numpy()

    def cam_module(self) -> AdaptedModule:
        """The module for Grad-CAM / occlusion: [0, 1] grey in, logits of our labels out.

        Raises:
            HideseekError: No PyTorch module (ONNX, a plain callable), with the reason.
        """
        if self.module is None:
            raise HideseekError(f"{self.name}: Grad-CAM cannot run: {self.no_module_reason}")
        if self._matrix is None and self.spec.target == "label":
            self._matrix = label_matrix(self.spec, len(self.classes), self.name)
        cam = AdaptedModule(self.module, self.spec, self._matrix)
        cam.training = False
        return cam
