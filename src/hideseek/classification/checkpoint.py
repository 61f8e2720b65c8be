"""Saving and loading classifiers (ours, or a plain torchvision state_dict with its arch name)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hideseek.engine.checkpoint import atomic_save, load_checkpoint_file
from hideseek.errors import HideseekError
from hideseek.models.architectures import Classifier, build_model
from hideseek.models.spec import InputSpec, ModelSpec, declared_conflicts, flag_of, listed

__all__ = ["load_classifier", "save_classifier"]

log = logging.getLogger(__name__)

KIND = "hideseek-classifier"


def save_classifier(path: str | Path, model: Classifier, classes: list[str],
                    config: dict[str, Any], task: dict[str, Any] | None = None,
                    **meta: Any) -> None:
    """Save weights with everything needed to rebuild and use them (versioned, atomic).

    ``task``: the task's JSON (:meth:`~hideseek.task.Task.to_json`) the classes belong to.
    """
    module = getattr(model, "module", model)  # unwrap DDP
    atomic_save(path, {"kind": KIND, "arch": module.arch, "classes": classes, "config": config,
                       "task": task,
                       "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
                       "meta": meta})


def _own_spec(ckpt: dict[str, Any]) -> ModelSpec:
    cfg = ckpt.get("config", {})
    multilabel = (ckpt.get("task") or {}).get("kind") == "multilabel"
    return ModelSpec(classes=list(ckpt["classes"]), target=cfg.get("target", "label"),
                     activation="sigmoid" if multilabel else "softmax",
                     input=InputSpec(size=cfg.get("image_size", 224), channels=1,
                                     crop_top=cfg.get("crop_top", 0.08)))


def _refuse_declared(path: Path, spec: ModelSpec | None, own: ModelSpec, arch: str | None,
                     own_arch: str) -> None:
    """Our checkpoints carry their spec and architecture: a declared field (or ``--arch``)
    that differs cannot apply, and is refused rather than ignored."""
    clash = declared_conflicts(spec, own)
    if arch is not None and arch != own_arch:
        clash.insert(0, ("arch", arch, own_arch))

    def shown(v: object) -> str:
        return listed(v) if isinstance(v, list) else str(v)

    if clash:
        given = "; ".join(f"{k} {shown(v)} (the checkpoint's: {shown(o)})" for k, v, o in clash)
        flags = " / ".join("--arch" if k == "arch" else flag_of(k) for k, _, _ in clash)
        spec_fields = " (or those fields of --spec)" if any(k != "arch" for k, _, _ in clash) \
            else ""
        raise HideseekError(f"{path}: a hideseek checkpoint declares its own classes, input and "
                            f"architecture; the given {given} cannot apply: leave out "
                            f"{flags}{spec_fields}")


def _plain_spec(path: Path, spec: ModelSpec | None, num_classes: int) -> ModelSpec:
    """The declared spec of a plain state dict, its class count checked against the weights."""
    spec = spec or ModelSpec()
    if spec.classes is not None and len(spec.classes) != num_classes:
        raise HideseekError(f"{path}: the weights have {num_classes} outputs but the spec "
                            f"declares {len(spec.classes)} classes ({listed(spec.classes)})")
    if spec.num_classes is not None and spec.num_classes != num_classes:
        raise HideseekError(f"{path}: the weights have {num_classes} outputs but the spec says "
                            f"num_classes {spec.num_classes}; leave it out (a plain state dict "
                            "keeps its head)")
    return spec


def _plain_input(path: Path, spec: ModelSpec, model: Classifier,
                 arch: str) -> tuple[ModelSpec, str]:
    """The input of a plain state dict: the declared size / crop, and the grey [0, 1] image of
    our wrapper (a declared 3-channel or normalised input is refused: it would be applied
    twice)."""
    from hideseek.models.inputs import ModelInput, resolve_input

    wrapper = ModelInput({"channels": 1, "range": (0.0, 1.0), "mean": None, "std": None},
                         f"a plain state dict runs in hideseek's {arch} wrapper, which takes the "
                         "grey image in [0, 1] and replicates / normalises it for the network "
                         "itself", fixed=True)
    inp, why = resolve_input(model, spec, own=wrapper, name=str(path))
    return spec.model_copy(update={"input": inp}), why


def load_classifier(path: str | Path, arch: str | None = None, *,
                    spec: ModelSpec | None = None) -> tuple[Classifier, dict[str, Any]]:
    """Load a classifier.

    Args:
        path: A training folder (``best.pt`` inside), one of our checkpoints, or a plain
            torchvision ``state_dict`` file (then ``arch`` is required).
        arch: Architecture name for plain state dicts.
        spec: For plain state dicts: the class order (never guessed) and input size / crop
            (they run in our grey wrapper: a 3-channel or normalised input is refused); our
            checkpoints carry their own (a declared field that differs is refused).

    Returns:
        The model in eval mode and its metadata (``classes``, ``config``, ``spec``, ...);
        ``classes`` is None for a plain state dict without a declared order (the model adapter
        refuses to use it).
    """
    path, ckpt = load_checkpoint_file(path)
    if isinstance(ckpt, dict) and ckpt.get("kind") == KIND:
        own = _own_spec(ckpt)
        _refuse_declared(path, spec, own, arch, ckpt["arch"])
        model = build_model(ckpt["arch"], len(ckpt["classes"]), pretrained=False)
        model.load_state_dict(ckpt["state_dict"])
        meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
        return model.eval(), {**meta, "spec": own,
                              "input_provenance": "every field: the checkpoint's own spec"}
    if not isinstance(ckpt, dict):
        raise HideseekError(f"{path}: expected a state_dict (a mapping of tensors)")
    if arch is None:
        raise HideseekError(f"{path}: a plain state_dict needs --arch (e.g. resnet50)")
    state = ckpt.get("state_dict", ckpt)
    head = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
    num_classes = int(head[-1].shape[0]) if head else 3
    spec = _plain_spec(path, spec, num_classes)
    model = build_model(arch, num_classes, pretrained=False)
    spec, why = _plain_input(path, spec, model, arch)
    try:
        model.backbone.load_state_dict(state)
    except RuntimeError:
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise HideseekError(f"{path}: weights do not fit {arch} ({exc})") from exc
    return model.eval(), {"arch": arch, "classes": spec.classes, "config": {}, "spec": spec,
                          "input_provenance": why}
