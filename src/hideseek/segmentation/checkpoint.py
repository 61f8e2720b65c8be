"""Saving and loading segmentation models, and the default model shipped in the package."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, cast

import torch

from hideseek.data.manifest import read_splits
from hideseek.engine.checkpoint import atomic_save, load_checkpoint_file
from hideseek.errors import HideseekError
from hideseek.segmentation.qc import ranges_beside
from hideseek.segmentation.registry import register_segmenter, segmenter_loader
from hideseek.segmentation.unet import UNet, UNetConfig

__all__ = ["DEFAULT_MODEL", "SHIPPED_MODELS", "UNET_KIND", "export_segmenter", "load_segmenter",
           "save_segmenter", "shipped_model_path"]

DEFAULT_MODEL = "default"
#: The segmentation models shipped in the package, by name (``--model NAME``), and their files
#: under ``hideseek/segmentation/weights/`` (each described in that folder's MODEL_CARD.md).
#: ``default`` follows the V7 tracing convention (the lung behind the heart and below the
#: diaphragm dome included); ``three-collections`` (opt-in) learned from V7, Shenzhen and
#: COVID-QU-Ex masks and draws the tighter JSRT / Montgomery-style lungs of the latter two.
SHIPPED_MODELS: dict[str, str] = {DEFAULT_MODEL: "unet_default.pt",
                                  "three-collections": "unet_three_collections.pt"}
#: ``kind`` of our U-Net checkpoints.
UNET_KIND = "hideseek-unet"


def save_segmenter(path: str | Path, model: UNet, image_size: int, half: bool = False,
                   **meta: Any) -> None:
    """Save a U-Net with its configuration and input size (versioned, atomic, weights only).

    Args:
        path: Destination file.
        model: The network.
        image_size: Side the network was trained at.
        half: Store weights in fp16 (halves the file; used for the shipped model).
        **meta: JSON-like extra information (metrics, seed, data).
    """
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    atomic_save(path, {"kind": UNET_KIND, "config": model.config.to_dict(),
                       "image_size": int(image_size), "state_dict": state, "meta": meta})


def _unet(ckpt: Mapping[str, Any]) -> torch.nn.Module:
    model = UNet(UNetConfig(**ckpt["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in ckpt["state_dict"].items()})
    return model


register_segmenter(UNET_KIND, _unet)


def shipped_model_path(name: str) -> Path | None:
    """The file of the shipped model ``name`` (:data:`SHIPPED_MODELS`), or None for other names."""
    file = SHIPPED_MODELS.get(name)
    if file is None:
        return None
    return Path(str(resources.files("hideseek.segmentation") / "weights" / file))


def load_segmenter(path: str | Path | None = None) -> tuple[UNet, int, dict[str, Any]]:
    """Load a segmentation model saved by :func:`save_segmenter` (or ``best.pt`` of training),
    or any registered kind (:func:`~hideseek.segmentation.registry.register_segmenter`).

    Args:
        path: Checkpoint file or training folder, or the name of a shipped model
            (:data:`SHIPPED_MODELS`; ``./NAME`` for a folder of that name); None loads the
            default model.

    Returns:
        The model in eval mode (fp32), its input size, and its metadata; ``meta["qc_ranges"]``
        (the training masks' lung shape ranges, :mod:`hideseek.segmentation.qc`) comes from
        ``<checkpoint>.qc.json`` when the checkpoint itself has none.
    """
    name = DEFAULT_MODEL if path is None else str(path)
    shipped = shipped_model_path(name)
    # a name wins over a folder of that name: pass ./NAME for the folder
    if shipped is not None and not shipped.is_file():
        raise HideseekError(f"the shipped segmentation model {name!r} is missing ({shipped}); "
                            "reinstall hideseek or pass --model FILE")
    path, ckpt = load_checkpoint_file(shipped or name, "segmentation model")
    if not isinstance(ckpt, dict):
        raise HideseekError(f"{path}: not a hideseek segmentation checkpoint")
    kind = ckpt.get("kind")
    loader = segmenter_loader(kind, path)
    try:
        model = loader(ckpt)
        size = int(ckpt["image_size"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise HideseekError(f"{path}: cannot build the {kind} segmenter ({exc})") from exc
    meta = dict(ckpt.get("meta") or {})
    if "qc_ranges" not in meta:  # an older checkpoint (the shipped one): the ranges beside it
        beside = ranges_beside(path)
        if beside is not None:
            meta["qc_ranges"] = beside
    # Any registered kind works with predict_masks (it needs the forward pass and `multiple`).
    return cast(UNet, model.eval()), size, meta


def export_segmenter(run: str | Path, out: str | Path, **meta: Any) -> Path:
    """Write a ``segment train`` run's chosen model as a small file to ship or share.

    The weights go in fp16 (half the size; predictions use fp32); the metadata keeps the run's
    (``qc_ranges``, epoch, validation Dice) and adds the file names the model never trained on,
    from the run's ``splits.csv`` (``val_files``, ``test_files``: what benchmarks hold out).

    Args:
        run: The training folder (``best.pt`` and ``splits.csv``).
        out: The file to write.
        **meta: Further JSON-like facts (recipe, training data).

    Returns:
        ``out`` as a path.

    Raises:
        HideseekError: ``run`` has no readable ``best.pt`` or ``splits.csv``.
    """
    run, out = Path(run), Path(out)
    rows = read_splits(run / "splits.csv")
    model, size, found = load_segmenter(run / "best.pt")
    held = {f"{s}_files": sorted(r["filename"] for r in rows if r["split"] == s)
            for s in ("val", "test")}
    save_segmenter(out, model, size, half=True, **{**found, **held, **meta})
    return out
