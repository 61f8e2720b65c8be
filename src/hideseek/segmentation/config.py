"""Segmentation training settings as typed, validated configuration (YAML or CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from hideseek.errors import HideseekError
from hideseek.validation import config_error

__all__ = ["SEG_PRESETS", "SegTrainConfig", "load_seg_config"]


class SegTrainConfig(BaseModel):
    """Segmentation training settings (defaults: a small U-Net that trains on a CPU).

    The paper's network is ``depth=5, base=64, batch_norm=False`` at 512 px, batch 1
    (preset ``paper``).
    """

    model_config = ConfigDict(extra="forbid")

    image_size: int = Field(256, ge=16)
    depth: int = Field(5, ge=2)
    base: int = Field(16, ge=1)
    batch_norm: bool = True
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(4, ge=1)
    lr: float = Field(1e-4, gt=0)
    dice_weight: float = Field(1.0, ge=0)
    augment: bool = True
    #: Exposure / contrast augmentation (window, gamma, local contrast, blur, noise) on top of
    #: ``augment``'s geometry and intensity jitter.
    exposure_augment: bool = False
    #: Elastic deformation (the U-Net paper's augmentation for few annotated images) on top of
    #: ``augment``'s rotation / scale / shift.
    elastic_augment: bool = False
    #: Synthetic consolidation: parts of the lungs (up to whole lungs) whitened towards
    #: soft-tissue grey, their label kept (:class:`~hideseek.segmentation.augment.OpacityAugment`).
    opacity_augment: bool = False
    seed: int = 0
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    workers: int = Field(0, ge=0)
    #: ``cosine``: the learning rate decays to 1% over the epochs.
    schedule: Literal["constant", "cosine"] = "constant"
    #: Start from these U-Net weights (fine-tuning).
    init: str | None = None
    #: Early stopping: epochs without validation Dice improvement; None: off.
    patience: int | None = Field(default=None, ge=1)
    #: Early stopping: least Dice improvement that counts.
    min_delta: float = Field(default=0.0, ge=0)
    #: Train through torch.compile.
    compile: bool = False
    #: Datasets to train on (pack folders with ``masks/``), when not given on the command line;
    #: relative paths are taken from the YAML file's folder.
    data: list[str] = []
    #: Several datasets: how often each is drawn. ``sqrt``: in proportion to the square root of
    #: its size (a large collection does not drown a small one); ``proportional``: to its size
    #: (every image equally often); ``balanced``: every collection equally often.
    collection_sampling: Literal["sqrt", "proportional", "balanced"] = "sqrt"
    #: Extra factor on a collection's share, by collection name (its folder's name).
    collection_weights: dict[str, float] = {}
    #: Training images drawn per epoch (with replacement when several datasets are weighted);
    #: None: the number of training images, each once.
    samples_per_epoch: int | None = Field(default=None, ge=1)
    #: Keep the resumable state (``last.pt``) once training has finished; by default a
    #: finished run keeps ``best.pt`` only.
    keep_state: bool = False


#: Named settings. ``paper``: the paper's U-Net (depth 5, 64 filters, 512 px, batch 1, CE only).
SEG_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"image_size": 512, "depth": 5, "base": 64, "batch_norm": False, "batch_size": 1,
              "dice_weight": 0.0},
}


def _from_yaml(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
        loaded = yaml.safe_load(text) if text.strip() else {}
    except (OSError, yaml.YAMLError) as exc:
        raise HideseekError(f"{path}: cannot read the segmentation config ({exc})") from exc
    if isinstance(loaded, dict):
        return loaded
    raise HideseekError(f"{path}: a segmentation config must be a mapping, not "
                        f"{type(loaded).__name__}")


def load_seg_config(path: str | Path | None = None, preset: str | None = None,
                    **overrides: Any) -> SegTrainConfig:
    """Build a config: preset, then YAML file, then explicit overrides (None values ignored).

    Raises:
        HideseekError: Unknown preset, unreadable YAML or invalid values (all listed).
    """
    if preset is not None and preset not in SEG_PRESETS:
        raise HideseekError(f"unknown preset {preset!r}; choose from {', '.join(SEG_PRESETS)}")
    values: dict[str, Any] = dict(SEG_PRESETS[preset]) if preset else {}
    if path is not None:
        loaded = _from_yaml(path)
        if isinstance(loaded.get("data"), str):
            loaded["data"] = [loaded["data"]]
        if isinstance(loaded.get("data"), list):
            base = Path(path).resolve().parent
            loaded["data"] = [str(base / d) if not Path(str(d)).is_absolute() else str(d)
                              for d in loaded["data"]]
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SegTrainConfig(**values)
    except ValueError as exc:
        raise config_error(exc, "invalid segmentation config") from exc
