"""Saving and loading classifiers (ours, or a plain torchvision state_dict with its arch name)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hideseek.classification.models.registry import Classifier, build_model
from hideseek.engine.checkpoint import atomic_save
from hideseek.errors import HideseekError
from hideseek.models.spec import InputSpec, ModelSpec
from hideseek.runtime import load_checkpoint_file

__all__ = ["load_classifier", "save_classifier"]

log = logging.getLogger(__name__)

KIND = "hideseek-classifier"


def save_classifier(path: str | Path, model: Classifier, classes: list[str],
                    config: dict[str, Any], **meta: Any) -> None:
    """Save weights with everything needed to rebuild and use them (versioned, atomic)."""
    module = getattr(model, "module", model)  # unwrap DDP
    atomic_save(path, {"kind": KIND, "arch": module.arch, "classes": classes, "config": config,
                       "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
                       "meta": meta})


def _own_spec(ckpt: dict[str, Any]) -> ModelSpec:
    cfg = ckpt.get("config", {})
    return ModelSpec(classes=list(ckpt["classes"]), target=cfg.get("target", "label"),
                     input=InputSpec(size=cfg.get("image_size", 224), channels=1,
                                     crop_top=cfg.get("crop_top", 0.08)))


def _plain_spec(path: Path, spec: ModelSpec | None, num_classes: int) -> ModelSpec:
    spec = spec or ModelSpec()
    if spec.classes is not None and len(spec.classes) != num_classes:
        raise HideseekError(f"{path}: the weights have {num_classes} outputs but the spec "
                            f"declares {len(spec.classes)} classes ({', '.join(spec.classes)})")
    inp = spec.input
    if inp.channels != 1 or inp.mean is not None or inp.std is not None or inp.range != (0, 1):
        log.warning("%s: a plain state dict runs in hideseek's wrapper, which replicates the grey "
                    "image and applies the ImageNet normalisation itself; input.channels / range "
                    "/ mean / std of the spec are ignored", path)
        inp = inp.model_copy(update={"channels": 1, "mean": None, "std": None,
                                     "range": (0.0, 1.0)})
    return spec.model_copy(update={"input": inp})


def load_classifier(path: str | Path, arch: str | None = None, *,
                    spec: ModelSpec | None = None) -> tuple[Classifier, dict[str, Any]]:
    """Load a classifier.

    Args:
        path: A training folder (``best.pt`` inside), one of our checkpoints, or a plain
            torchvision ``state_dict`` file (then ``arch`` is required).
        arch: Architecture name for plain state dicts.
        spec: For plain state dicts: the class order (never guessed) and input size / crop;
            our checkpoints carry their own.

    Returns:
        The model in eval mode and its metadata (``classes``, ``config``, ``spec``, ...);
        ``classes`` is None for a plain state dict without a declared order (the model adapter
        refuses to use it).
    """
    path, ckpt = load_checkpoint_file(path)
    if isinstance(ckpt, dict) and ckpt.get("kind") == KIND:
        model = build_model(ckpt["arch"], len(ckpt["classes"]), pretrained=False)
        model.load_state_dict(ckpt["state_dict"])
        meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
        return model.eval(), {**meta, "spec": _own_spec(ckpt)}
    if not isinstance(ckpt, dict):
        raise HideseekError(f"{path}: expected a state_dict (a mapping of tensors)")
    if arch is None:
        raise HideseekError(f"{path}: a plain state_dict needs --arch (e.g. resnet50)")
    state = ckpt.get("state_dict", ckpt)
    head = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
    num_classes = int(head[-1].shape[0]) if head else 3
    spec = _plain_spec(path, spec, num_classes)
    model = build_model(arch, num_classes, pretrained=False)
    try:
        model.backbone.load_state_dict(state)
    except RuntimeError:
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise HideseekError(f"{path}: weights do not fit {arch} ({exc})") from exc
    return model.eval(), {"arch": arch, "classes": spec.classes, "config": {}, "spec": spec}
