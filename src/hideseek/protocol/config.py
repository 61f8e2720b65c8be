"""The protocol configuration (``hideseek run protocol.yaml``), validated with clear messages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hideseek.errors import HideseekError
from hideseek.models.architectures import ARCHITECTURES
from hideseek.representations.registry import check_fill, check_representations
from hideseek.representations.transforms import REPRESENTATIONS
from hideseek.segmentation.checkpoint import SHIPPED_MODELS
from hideseek.task import Task, normalise_task, parse_task
from hideseek.validation import all_of, config_error

if TYPE_CHECKING:
    from hideseek.protocol.rule import VerdictMargins

__all__ = ["ProtocolConfig", "load_protocol_config"]


class ProtocolConfig(BaseModel):
    """Everything one protocol run needs.

    Paths are resolved relative to the YAML file's folder.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = "protocol"
    data: list[str] = Field(..., description="pack folder, or COVIDx split files")
    #: The task: a preset name (``covid``), a list of classes, or ``{classes, kind, primary,
    #: aliases, uncertain}``; None: read from the data (:func:`hideseek.task.infer_task`).
    task: dict[str, Any] | None = None
    images: str | None = None
    masks: str | None = None
    segmentation_model: str = "default"
    representations: list[str] = list(REPRESENTATIONS)
    architectures: list[str] = ["resnet50"]
    seeds: list[int] = [0]
    split_seed: int = 0
    margins: dict[str, int | float] = {}
    train: dict[str, Any] = {}
    fill: str = "zero"
    box_margin: int = 0
    on_bad_mask: Literal["exclude", "keep-original", "error", "exclude-flagged"] = "exclude"
    audit: bool = True
    #: Re-test every hidden version's model with the lung masks shrunk and grown by 2% of the
    #: lung width and re-make the verdict (no retraining): does it hold under segmentation
    #: errors? ``retrain``: train the hidden versions' models again on the shrunk / grown masks
    #: (two more cells per hidden version and architecture, first seed) and decide on those.
    mask_perturbation: bool | Literal["retrain"] = False
    cam: bool = True
    cam_max_images: int | None = 150
    cam_method: str = "gradcam"
    probe_source: bool = True
    probe_arch: str | None = None
    n_boot: int = 1000
    output: str = "runs/protocol"
    external_test: str | None = Field(
        default=None, description="a collection the models never saw (pack folder or COVIDx "
        "split file): each data-trained cell is tested on it, per source")
    external_images: str | None = None
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    cpus_per_cell: float = 2.0
    gpus_per_cell: float = 0.0

    @field_validator("data", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, v: Any) -> dict[str, Any] | None:
        return normalise_task(v)

    def declared_task(self) -> Task | None:
        """The declared task (None: read it from the data)."""
        return parse_task(self.task)

    @field_validator("architectures")
    @classmethod
    def _archs(cls, v: list[str]) -> list[str]:
        from hideseek.models.architectures import check_architecture

        return [a if a in ARCHITECTURES else check_architecture(a) for a in v]

    @field_validator("representations")
    @classmethod
    def _reps(cls, v: list[str]) -> list[str]:
        v = check_representations(v)
        if "data" not in v:
            v = ["data", *v]  # every comparison is against the originals
        return v

    @field_validator("cam_method")
    @classmethod
    def _cam_method(cls, v: str) -> str:
        from hideseek.explanation.registry import explainer_names

        all_of([v], explainer_names(), "cam_method")
        return v

    @field_validator("fill")
    @classmethod
    def _fill(cls, v: str) -> str:
        check_fill(v)
        return v

    @field_validator("margins")
    @classmethod
    def _margins(cls, v: dict[str, int | float]) -> dict[str, int | float]:
        from hideseek.protocol.rule import VerdictMargins

        try:
            VerdictMargins(**v)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError(f"unknown margin ({exc})") from exc
        return v

    def verdict_margins(self) -> VerdictMargins:
        """The verdict rule's margins (:class:`~hideseek.protocol.rule.VerdictMargins`)."""
        from hideseek.protocol.rule import VerdictMargins

        return VerdictMargins(**self.margins)  # type: ignore[arg-type]

    @field_validator("train")
    @classmethod
    def _train(cls, v: dict[str, Any]) -> dict[str, Any]:
        from hideseek.classification.config import TrainConfig

        owned = {"arch", "representation", "seed", "split_seed", "fill", "box_margin",
                 "target", "task"}
        clash = sorted(owned & set(v))
        if clash:
            raise ValueError(f"train: {clash} are set by the protocol itself (use "
                             "architectures / representations / seeds / split_seed / fill / "
                             "box_margin / task)")
        TrainConfig(**v)  # validates every field now, not hours later
        return v

    @model_validator(mode="after")
    def _train_fits_task(self) -> ProtocolConfig:
        """A declared task and the training recipe agree (class weights, primary sampler)."""
        from hideseek.classification.config import TrainConfig

        task = self.declared_task()
        if task is None:
            return self
        train = TrainConfig(**self.train)
        try:
            train.loss_weights(task)
        except ValueError as exc:
            raise ValueError(f"train.class_weights: {exc}") from None
        primary = train.sampler in ("primary_fraction", "covid_fraction")
        if primary and not task.multilabel and task.primary is None:
            raise ValueError(f"train.sampler {train.sampler}: the task has no primary class "
                             "(task: {classes: [...], primary: NAME})")
        return self

    def summary(self, check_paths: bool = True) -> str:
        """The resolved config in a few lines (``hideseek run --validate-only``)."""
        from hideseek.classification.config import TrainConfig
        from hideseek.protocol.rule import SILHOUETTE
        from hideseek.representations.registry import hidden_representations

        def where(p: str | None) -> str:
            return f"{p} (not found)" if p and not check_paths and not Path(p).exists() else \
                str(p)

        task = self.declared_task()
        t = TrainConfig(**self.train)
        hidden = [r for r in self.representations if r in hidden_representations()]
        lines = [f"name: {self.name}",
                 "task: " + (task.describe() + (f" (uncertain: {task.uncertain})"
                                                if task.multilabel else "")
                             if task else "read from the data's labels"),
                 "data: " + ", ".join(where(d) for d in self.data)
                 + (f" (images: {where(self.images)})" if self.images else ""),
                 "masks: " + (where(self.masks) if self.masks else
                              f"predicted by the segmentation model {self.segmentation_model}"),
                 f"architectures: {', '.join(self.architectures)}",
                 f"representations: {', '.join(self.representations)} (hidden, decided on: "
                 f"{', '.join(hidden) or 'none'})",
                 f"seeds: {', '.join(map(str, self.seeds))}; split seed {self.split_seed}",
                 f"train: {t.image_size} px, {t.epochs} epochs, batch {t.batch_size}, lr {t.lr:g} "
                 f"({t.lr_schedule}), sampler {t.sampler}, selected on {t.select_metric}, "
                 f"{'pretrained' if t.pretrained else 'random init'}",
                 f"cells: {len(self.architectures) * len(self.representations) * len(self.seeds)}"
                 f" ({len(self.architectures)} architecture(s) x {len(self.representations)} "
                 f"representation(s) x {len(self.seeds)} seed(s))"]
        if task is not None and hidden:
            m = len(hidden) * (1 + task.n_classes) + (SILHOUETTE in self.representations)
            alpha = self.verdict_margins().alpha
            lines.append(f"verdict: {m} decisions, each interval at {1 - alpha / m:.2%} "
                         f"(Bonferroni, family-wise {alpha:g})")
        lines += [f"stages: audit {'on' if self.audit else 'off'}, Grad-CAM "
                  f"{f'on ({self.cam_method})' if self.cam else 'off'}, source probe "
                  f"{'on' if self.probe_source else 'off'}; n_boot {self.n_boot}",
                  f"output: {self.output}"]
        return "\n".join(lines)


def load_protocol_config(path: str | Path, *, check_paths: bool = True,
                         **overrides: Any) -> ProtocolConfig:
    """Read and validate a protocol YAML; relative paths are taken from the file's folder.

    Args:
        path: The YAML file.
        check_paths: Require the data and masks to exist (False: validate the fields, task,
            architectures and representations only, e.g. before the data is copied).
        **overrides: Fields that replace the file's (None: keep the file's).
    """
    path = Path(path)
    if not path.is_file():
        raise HideseekError(f"{path}: protocol config not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise HideseekError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise HideseekError(f"{path}: the protocol config must be a mapping")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = ProtocolConfig(**raw)
    except ValidationError as exc:
        raise config_error(exc, f"{path}: invalid protocol config") from exc
    base = path.resolve().parent

    def resolve(p: str | None) -> str | None:
        if p is None or p in SHIPPED_MODELS:  # a shipped model's name, not a path
            return p
        return str((base / p).resolve()) if not Path(p).is_absolute() else p

    cfg.data = [resolve(d) or d for d in cfg.data]
    cfg.images = resolve(cfg.images)
    cfg.masks = resolve(cfg.masks)
    cfg.segmentation_model = resolve(cfg.segmentation_model) or "default"
    if "output" not in overrides or overrides.get("output") is None:
        cfg.output = resolve(cfg.output) or cfg.output
    if not check_paths:
        return cfg
    missing = [d for d in cfg.data if not Path(d).exists()]
    if missing:
        raise HideseekError(f"{path}: data not found: {', '.join(missing)}")
    if cfg.masks and not Path(cfg.masks).is_dir():
        raise HideseekError(f"{path}: masks folder not found: {cfg.masks}")
    return cfg
