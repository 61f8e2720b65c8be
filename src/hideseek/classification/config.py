"""Training recipes as typed, validated configuration (YAML or CLI)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hideseek.engine.schedule import Schedule
from hideseek.errors import HideseekError
from hideseek.models.architectures import ARCHITECTURES
from hideseek.representations.registry import check_fill, check_representations
from hideseek.task import Task, normalise_task, parse_task
from hideseek.validation import config_error

__all__ = ["PRESETS", "AugmentConfig", "TrainConfig", "config_from_meta", "load_train_config"]


class AugmentConfig(BaseModel):
    """The COVID-Net augmentation recipe (the paper's, for every architecture)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    aspect_p: float = 0.3
    aspect: float = 0.1
    rotation: float = 10.0
    translate: float = 0.1
    zoom: float = 0.15
    intensity: float = 0.1
    hflip: bool = False


class TrainConfig(BaseModel):
    """One training run: architecture, representation and recipe.

    Defaults are the paper's recipe for AlexNet / VGG-11 / ResNet-50: 224 px, batch 32, Adam
    1e-4, 20 epochs, class weights 1, 1, 4, class-balanced sampler, no horizontal flip.
    """

    model_config = ConfigDict(extra="forbid")

    arch: str = "resnet50"
    representation: str = "data"
    fill: str = "zero"
    box_margin: int = 0
    image_size: int = Field(224, ge=32)
    crop_top: float = 0.08
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = 0.0
    #: Learning-rate schedule per epoch: ``constant`` (the paper) or ``cosine`` (to 1% of lr).
    lr_schedule: Schedule = "constant"
    epochs: int = Field(20, ge=1)
    #: The task (classes or findings, kind, primary, aliases): a preset name, a list of
    #: classes or a mapping (:func:`hideseek.task.parse_task`); None: read from the data.
    task: dict[str, Any] | None = None
    #: Loss weight per class (multi-label: per finding), by name (``{COVID-19: 4}``; unnamed
    #: classes 1) or in class order; None: the paper's 1, 1, 4 under the COVID preset
    #: (COVID-19 weighted 4), 1 for every class otherwise.
    class_weights: list[float] | dict[str, float] | None = None
    #: ``balanced``: every class (multi-label: every finding, rare ones too) drawn equally
    #: often; ``primary_fraction``: the primary class drawn with ``primary_fraction`` (the
    #: COVID-Net recipe; ``covid_fraction`` is its old name); ``shuffle``: each image once.
    sampler: Literal["balanced", "primary_fraction", "covid_fraction", "shuffle"] = "balanced"
    primary_fraction: float | None = Field(default=None, gt=0, lt=1)
    covid_fraction: float = 0.3
    pretrained: bool = True
    augment: AugmentConfig = AugmentConfig()
    seed: int = 0
    split_seed: int | None = None  # seed of the train/val/test split; None: ``seed``
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    #: Validation score that selects the checkpoint (``auc``: macro AUC; multi-label tasks
    #: read ``accuracy`` / ``balanced_accuracy`` as macro AUC).
    select_metric: Literal["accuracy", "balanced_accuracy", "loss", "auc"] = "accuracy"
    target: Literal["label", "source"] = "label"
    workers: int = 0
    #: Early stopping: epochs without validation improvement (select_metric); None: off.
    patience: int | None = Field(default=None, ge=1)
    #: Early stopping: least improvement of the selection score that counts.
    min_delta: float = Field(default=0.0, ge=0)
    #: Early stopping: never before this epoch; None: a third of ``epochs`` (at least 3) when
    #: ``patience`` is set.
    min_epochs: int | None = Field(default=None, ge=1)
    #: Epochs averaged into the validation score that early stopping watches and the
    #: checkpoint is selected on; None: 3 when ``patience`` is set, else 1 (each epoch's own).
    smooth: int | None = Field(default=None, ge=1)
    #: Train through torch.compile (see docs: it pays on GPUs, not on small CPU runs).
    compile: bool = False
    #: Write the resumable state (``last.pt``) every this many epochs.
    checkpoint_every: int = Field(default=1, ge=1)
    #: Keep the resumable state (``last.pt``) once training has finished; by default a
    #: finished run keeps ``best.pt`` only (the optimizer state is as large again).
    keep_state: bool = False

    @property
    def effective_split_seed(self) -> int:
        """The seed of the train/val/test split: ``split_seed``, else the training seed."""
        return self.seed if self.split_seed is None else self.split_seed

    @field_validator("arch")
    @classmethod
    def _arch(cls, v: str) -> str:
        from hideseek.models.architectures import check_architecture

        return v if v in ARCHITECTURES else check_architecture(v)

    @field_validator("representation")
    @classmethod
    def _rep(cls, v: str) -> str:
        return check_representations([v])[0]

    @field_validator("fill")
    @classmethod
    def _fill(cls, v: str) -> str:
        check_fill(v)
        return v

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, v: Any) -> dict[str, Any] | None:
        return normalise_task(v)

    def declared_task(self) -> Task | None:
        """The declared task (None: read it from the data)."""
        return None if self.task is None else parse_task(self.task)

    def stopping(self) -> tuple[int, int]:
        """``(min_epochs, smooth)`` as the engine applies them: with early stopping on, a
        model is not stopped in its first third (at least 3 epochs) and is judged on a
        3-epoch mean, unless the config says otherwise; without it, neither applies."""
        if self.patience is None:
            return self.min_epochs or 0, self.smooth or 1
        floor = min(self.epochs, max(3, math.ceil(self.epochs / 3)))
        return (self.min_epochs if self.min_epochs is not None else floor,
                self.smooth if self.smooth is not None else 3)

    @property
    def fraction_of_primary(self) -> float:
        """The primary class's share of the draws (``primary_fraction``, else the old
        ``covid_fraction``)."""
        return self.primary_fraction if self.primary_fraction is not None \
            else self.covid_fraction

    def loss_weights(self, task: Task) -> list[float]:
        """The per-class (per-finding) loss weights for ``task``.

        Raises:
            ValueError: A weight names no class of the task, or a list of the wrong length.
        """
        w = self.class_weights
        if w is None:
            return [4.0 if task.name == "covid" and c == "COVID-19" else 1.0
                    for c in task.classes]
        if isinstance(w, list):
            if len(w) != task.n_classes:
                raise ValueError(f"class_weights has {len(w)} values for the {task.n_classes} "
                                 f"{task.words} {', '.join(task.classes)}; name them "
                                 "instead, e.g. {" + f"{task.classes[-1]}: 2" + "}")
            return [float(x) for x in w]
        named = {task.normalise(k): float(v) for k, v in w.items()}
        unknown = [k for k in w if task.normalise(k) is None]
        if unknown:
            raise ValueError(f"class_weights names {', '.join(unknown)}, not {task.words} of "
                             f"the task ({', '.join(task.classes)})")
        return [named.get(c, 1.0) for c in task.classes]


#: Named recipes. ``paper``: AlexNet / VGG / ResNet; ``covidnet``: the COVID-Net recipe.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "covidnet": {"arch": "covidnet", "image_size": 480, "batch_size": 8, "lr": 2e-4,
                 "epochs": 10, "sampler": "covid_fraction", "covid_fraction": 0.3,
                 "pretrained": False, "augment": {"hflip": True}},
}


def load_train_config(path: str | Path | None = None, preset: str | None = None,
                      **overrides: Any) -> TrainConfig:
    """Build a config: preset, then YAML file, then explicit overrides (None values ignored).

    Raises:
        HideseekError: Unknown preset, unreadable YAML or invalid values (all listed).
    """
    values: dict[str, Any] = {}
    if preset:
        if preset not in PRESETS:
            raise HideseekError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise HideseekError(f"{path}: cannot read the training config ({exc})") from exc
        if not isinstance(loaded, dict):
            raise HideseekError(f"{path}: a training config must be a mapping")
        aug = {**values.get("augment", {}), **loaded.get("augment", {})}
        values.update(loaded)
        if aug:
            values["augment"] = aug
    for k, v in overrides.items():
        if v is None:
            continue
        if k == "hflip":
            values["augment"] = {**values.get("augment", {}), "hflip": v}
        else:
            values[k] = v
    try:
        return TrainConfig(**values)
    except ValueError as exc:
        raise config_error(exc, "invalid training config") from exc


def config_from_meta(meta: dict[str, Any], representation: str) -> TrainConfig:
    """The training config stored with a checkpoint, set to another representation (plain
    torchvision state dicts carry none: the defaults apply)."""
    cfg = TrainConfig(**{k: v for k, v in meta.get("config", {}).items()
                         if k in TrainConfig.model_fields})
    return cfg.model_copy(update={"representation": representation})
