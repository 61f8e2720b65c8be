"""The one object audit, evaluation, occlusion and Grad-CAM talk to: a model with its spec.

:class:`ModelAdapter` turns our images (grey, [0, 1]) into the input a model expects, runs it
(an ``nn.Module``, an ONNX session or any callable) and turns its outputs into probabilities of
the classes of a task (:class:`~hideseek.task.Task`: the model's own, or a dataset's bound with
:meth:`ModelAdapter.bind`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hideseek.errors import HideseekError
from hideseek.models.spec import InputSpec, ModelSpec, listed
from hideseek.runtime import Runtime
from hideseek.task import COVID_TASK, Task, label_key

__all__ = ["AdaptedModule", "InputSpec", "ModelAdapter", "input_warning", "label_matrix",
           "own_task"]

log = logging.getLogger(__name__)


def own_task(spec: ModelSpec, meta: dict[str, Any] | None = None) -> Task:
    """The task a model's outputs name by themselves: the task its checkpoint records; else,
    when the spec maps outputs (``mapping``), the COVID preset if the targets are its labels;
    else its declared classes - the COVID preset when they are its labels, else a multi-label
    task for sigmoid outputs and a multiclass one otherwise."""
    recorded = (meta or {}).get("task")
    if recorded:
        return Task.from_json(recorded)
    classes = tuple(spec.require_classes("model"))
    if spec.mapping and all(COVID_TASK.normalise(v) for v in spec.mapping.values()):
        return COVID_TASK
    if spec.activation != "sigmoid" and sorted(str(COVID_TASK.normalise(c)) for c in classes) \
            == sorted(COVID_TASK.classes):
        return COVID_TASK  # in any output order: the label matrix permutes them
    kind = "multilabel" if spec.activation == "sigmoid" else "multiclass"
    try:
        return Task(classes, kind)  # type: ignore[arg-type]
    except ValueError as exc:
        raise HideseekError(f"model: its outputs do not make a task ({exc})") from exc


def _negative_class(task: Task) -> int | None:
    """The class that means 'none of the others' (``normal``, ``negative``, ``No Finding``)."""
    for k, c in enumerate(task.classes):
        if label_key(c) in ("normal", "negative", "nofinding", "healthy"):
            return k
    return None


def label_matrix(spec: ModelSpec, n_outputs: int, where: str = "model",
                 task: Task | None = None) -> np.ndarray:
    """K_outputs x K_task matrix: entry (k, j) is 1 when output k counts for ``task``'s class j.

    An output counts for the class its ``mapping`` names, else for the class whose name it
    spells (:meth:`~hideseek.task.Task.normalise`). ``task`` defaults to the COVID preset.

    Raises:
        HideseekError: Undeclared class order, a class count that does not match the model's
            outputs, a mapping to no class of the task, (softmax / probabilities) an output
            that maps to none of the task's classes, or a class no output gives.
    """
    task = task or COVID_TASK
    classes = spec.require_classes(where)
    if spec.normal == "one_minus_max" and spec.activation != "sigmoid":
        raise HideseekError(f"{where}: normal: one_minus_max needs activation: sigmoid")
    if len(classes) != n_outputs:
        raise HideseekError(f"{where}: the model has {n_outputs} outputs but the spec declares "
                            f"{len(classes)} classes ({_listed(classes)}); a torchvision: / "
                            f"timm: / python: model built by name gets a new {len(classes)}-"
                            f"output head with --num-classes {len(classes)} (num_classes: "
                            f"{len(classes)} in the spec)")
    bad = [f"{k}: {v}" for k, v in spec.mapping.items() if task.normalise(v) is None]
    if bad:
        raise HideseekError(f"{where}: mapping targets must be {task.words} of the task "
                            f"({_listed(task.classes)}), got {_listed(bad)}")
    m = np.zeros((n_outputs, task.n_classes), dtype=np.float32)
    unmapped = []
    for k, name in enumerate(classes):
        target = spec.mapping.get(name)
        label = task.normalise(target) if target is not None else task.normalise(name)
        if label is None:
            unmapped.append(name)
        else:
            m[k, task.index(label)] = 1.0
    if unmapped and spec.activation != "sigmoid":
        raise HideseekError(f"{where}: outputs {_listed(unmapped)} map to none of "
                            f"{_listed(task.classes)}; add them to mapping: in the spec")
    negative = _negative_class(task)
    missing = [c for j, c in enumerate(task.classes) if not m[:, j].any()
               and not (spec.normal == "one_minus_max" and j == negative)]
    if missing and spec.target == "label":
        if not task.multilabel and missing == [task.classes[negative or 0]] \
                and negative is not None:
            raise HideseekError(f"{where}: no output maps to {task.classes[negative]!r}; map "
                                f"one (e.g. No Finding: {task.classes[negative]}) or set "
                                "normal: one_minus_max (sigmoid)")
        raise HideseekError(f"{where}: no output of the model gives the {task.word}(s) "
                            f"{_listed(missing)} of the task; map them (mapping: in the spec) "
                            "or test on data whose labels the model predicts")
    return m


def _listed(names: Sequence[str], most: int = 12) -> str:
    """Names joined, a long list cut with a count."""
    return listed(names, most)


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


def to_probabilities(raw: torch.Tensor, spec: ModelSpec, m: np.ndarray | None,
                     task: Task | None = None) -> torch.Tensor:
    """Raw outputs (N x K) -> probabilities of ``task``'s classes (N x K_task; per-finding
    probabilities for a multi-label task), or of the sources (``m`` None)."""
    raw = raw.float()
    if spec.activation == "sigmoid":
        s = raw.sigmoid()
    elif spec.activation == "softmax":
        s = raw.softmax(1)
    else:
        s = raw
    if m is None:  # target: source
        return s
    task = task or COVID_TASK
    mt = torch.from_numpy(m).to(s.device)
    if spec.activation != "sigmoid":
        return s @ mt
    scores = (s.unsqueeze(2) * mt.unsqueeze(0)).amax(1)  # N x K_task: best output per class
    if task.multilabel:
        return scores
    negative = _negative_class(task)
    if spec.normal == "one_minus_max" and negative is not None:
        others = [j for j in range(task.n_classes) if j != negative]
        # not in place: Grad-CAM back-propagates through these scores
        none = 1.0 - scores[:, others].amax(1, keepdim=True)
        scores = torch.cat([scores[:, :negative], none, scores[:, negative + 1:]], 1)
    return scores / scores.sum(1, keepdim=True).clamp_min(1e-8)


class AdaptedModule(nn.Module):
    """An ``nn.Module`` with the adapter's input preparation and output mapping built in:
    [0, 1] grey images in, logits of the task's classes out (for Grad-CAM and occlusion;
    a multi-label task: each finding's logit)."""

    def __init__(self, module: nn.Module, spec: ModelSpec, m: np.ndarray | None,
                 task: Task | None = None) -> None:
        super().__init__()
        self.inner, self.spec, self.m, self.task = module, spec, m, task or COVID_TASK

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.inner(prepare(x, self.spec.input))
        if self.m is None:
            return raw
        square = self.m.shape[0] == self.m.shape[1]
        permutation = square and bool((self.m.sum(0) == 1).all() and (self.m.sum(1) == 1).all())
        if self.spec.activation in ("softmax", "sigmoid") and permutation \
                and (self.spec.activation == "sigmoid") == self.task.multilabel:
            return raw @ torch.from_numpy(self.m).to(raw.device, raw.dtype)
        prob = to_probabilities(raw, self.spec, self.m, self.task)
        if self.task.multilabel:
            return torch.logit(prob.clamp(1e-6, 1 - 1e-6))
        return prob.clamp_min(1e-8).log()


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
        #: Where each input field came from (:func:`hideseek.models.inputs.resolve_input`).
        self.input_provenance = ""
        self.meta.setdefault("arch", name)
        self.runtime = Runtime(device="cpu", amp=False, channels_last=False)
        self._matrix: np.ndarray | None = None
        self._checked = False
        self._task: Task | None = None
        if spec.target == "label":
            spec.require_classes(name)

    @property
    def own_task(self) -> Task:
        """The task the model's outputs name by themselves (:func:`own_task`)."""
        return own_task(self.spec, self.meta)

    @property
    def task(self) -> Task:
        """The task :meth:`predict_proba` answers: the one bound with :meth:`bind`, else the
        model's own."""
        return self._task or self.own_task

    def bind(self, task: Task) -> ModelAdapter:
        """Answer ``task``'s classes (a dataset's labels): each output counts for the class its
        mapping or its name gives.

        Raises:
            HideseekError: The outputs cannot give the task's classes (:func:`label_matrix`).
        """
        if self.spec.target != "label":
            return self
        if task.multilabel and self.spec.activation != "sigmoid":
            raise HideseekError(f"{self.name}: a multi-label task needs sigmoid outputs "
                                "(activation: sigmoid in the model spec)")
        self._matrix = label_matrix(self.spec, len(self.classes), self.name, task)
        self._task = task
        return self

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
        """Column names of :meth:`predict_proba`: the task's classes (or the sources of a
        probe)."""
        return self.classes if self.spec.target == "source" else list(self.task.classes)

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
        if self.spec.num_classes is not None and raw.shape[1] != self.spec.num_classes:
            raise HideseekError(f"{self.name}: the model has {raw.shape[1]} outputs but the spec "
                                f"says num_classes {self.spec.num_classes} (a new head is built "
                                "only for torchvision: / timm: / python: models named by kind)")
        if self._matrix is None:
            self._matrix = label_matrix(self.spec, raw.shape[1], self.name, self.task)
        return to_probabilities(raw, self.spec, self._matrix, self.task)

    def _check(self, x: torch.Tensor) -> None:
        if self._checked:
            return
        self._checked = True
        msg = input_warning(x, self.spec.input, self.native_range)
        if msg:
            log.warning("%s: %s", self.name, msg)

    def predict_proba(self, x: torch.Tensor) -> np.ndarray:
        """Probabilities (N x K, :attr:`labels` order) of a [0, 1] grey batch (N x 1 x H x W)."""
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
            self._matrix = label_matrix(self.spec, len(self.classes), self.name, self.task)
        cam = AdaptedModule(self.module, self.spec, self._matrix,
                            self.task if self.spec.target == "label" else None)
        cam.training = False
        return cam
