"""Saving and loading classifiers (ours, or a plain torchvision state_dict with its arch name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hideseek.classification.models.registry import Classifier, build_model
from hideseek.engine.checkpoint import atomic_save
from hideseek.errors import HideseekError
from hideseek.runtime import load_checkpoint_file

__all__ = ["load_classifier", "save_classifier"]

KIND = "hideseek-classifier"


def save_classifier(path: str | Path, model: Classifier, classes: list[str],
                    config: dict[str, Any], **meta: Any) -> None:
    """Save weights with everything needed to rebuild and use them (versioned, atomic)."""
    module = getattr(model, "module", model)  # unwrap DDP
    atomic_save(path, {"kind": KIND, "arch": module.arch, "classes": classes, "config": config,
                       "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
                       "meta": meta})


def load_classifier(path: str | Path, arch: str | None = None) -> tuple[Classifier, dict[str, Any]]:
    """Load a classifier.

    Args:
        path: A training folder (``best.pt`` inside), one of our checkpoints, or a plain
            torchvision ``state_dict`` file (then ``arch`` is required).
        arch: Architecture name for plain state dicts.

    Returns:
        The model in eval mode and its metadata (``classes``, ``config``, ...).
    """
    path, ckpt = load_checkpoint_file(path)
    if isinstance(ckpt, dict) and ckpt.get("kind") == KIND:
        model = build_model(ckpt["arch"], len(ckpt["classes"]), pretrained=False)
        model.load_state_dict(ckpt["state_dict"])
        return model.eval(), {k: v for k, v in ckpt.items() if k != "state_dict"}
    if not isinstance(ckpt, dict):
        raise HideseekError(f"{path}: expected a state_dict (a mapping of tensors)")
    if arch is None:
        raise HideseekError(f"{path}: a plain state_dict needs --arch (e.g. resnet50)")
    state = ckpt.get("state_dict", ckpt)
    head = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
    num_classes = int(head[-1].shape[0]) if head else 3
    model = build_model(arch, num_classes, pretrained=False)
    try:
        model.backbone.load_state_dict(state)
    except RuntimeError:
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise HideseekError(f"{path}: weights do not fit {arch} ({exc})") from exc
    from hideseek.data.labels import LABELS

    classes = list(LABELS) if num_classes == 3 else [str(i) for i in range(num_classes)]
    return model.eval(), {"arch": arch, "classes": classes, "config": {}}
