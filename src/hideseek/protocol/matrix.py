"""The verdict rule's known-answer matrix: phantom scenario x test size -> verdict.

Each scenario is trained once per representation (tiny images, ResNet-18, fixed seeds) on one
phantom set and tested on a second one drawn with another seed: a small test set (its first
images, 45 by default) and the whole (large) one. ``bench/verdicts.py`` prints the table;
``tests/protocol/test_verdict_matrix.py`` checks every row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.protocol.rule import SILHOUETTE, ArchitectureVerdict, PredictionSet, decide

__all__ = ["EXPECTED", "MATRIX_TRAIN", "MatrixRow", "MatrixSetup", "format_matrix", "run_matrix",
           "scenario_predictions"]

log = logging.getLogger(__name__)

#: The recipe: small, fast, deterministic; every scenario uses it unchanged. Every model must
#: reach what its input allows on either precision path (fp32 or bf16): 12 epochs with a
#: cosine decay and selection on validation loss (an earlier 6-epoch recipe, selected on
#: balanced accuracy, left some models half-trained on the fp32 path and gave wrong rows).
MATRIX_TRAIN: dict[str, Any] = {
    "arch": "resnet18", "epochs": 12, "image_size": 32, "batch_size": 32, "lr": 2e-3,
    "lr_schedule": "cosine", "pretrained": False, "crop_top": 0.0, "augment": {"enabled": False},
    "split": (0.8, 0.2, 0.0), "select_metric": "loss", "class_weights": [1, 1, 1],
    "checkpoint_every": 12,
}


def _covid_shortcut(v: ArchitectureVerdict, size: str) -> bool:
    return v.per_class["COVID-19"].verdict == "shortcut" and v.verdict != "uses_lungs"


#: Scenario -> (the right answers in words, the check).
EXPECTED: dict[str, tuple[str, Callable[[ArchitectureVerdict, str], bool]]] = {
    "lungs": ("uses_lungs (small: uses_lungs or inconclusive), never shortcut",
              lambda v, s: v.verdict == "uses_lungs" or (s == "small"
                                                          and v.verdict == "inconclusive")),
    "shortcut": ("shortcut", lambda v, s: v.verdict == "shortcut"),
    "both": ("shortcut or both", lambda v, s: v.verdict in ("shortcut", "both")),
    "intensity": ("not uses_lungs", lambda v, s: v.verdict != "uses_lungs"),
    "covid_source": ("COVID-19 shortcut; architecture not uses_lungs", _covid_shortcut),
    "shape": ("silhouette_predicts_class flagged",
              lambda v, s: "silhouette_predicts_class" in v.flags),
    "null": ("not_learned", lambda v, s: v.verdict == "not_learned"),
}


@dataclass(frozen=True)
class MatrixSetup:
    """Sizes and seeds of the matrix."""

    n_train: int = 240
    n_small: int = 45
    n_large: int = 300
    size: int = 32
    evidence: float = 2.5
    seed: int = 0
    train: dict[str, Any] = field(default_factory=lambda: dict(MATRIX_TRAIN))


@dataclass(frozen=True)
class MatrixRow:
    """One scenario at one test size."""

    scenario: str
    test_size: str
    n_test: int
    verdict: str
    per_class: dict[str, str]
    flags: list[str]
    expected: str
    ok: bool
    sentence: str = ""
    skipped: str | None = None
    #: Retained skill intervals ``(lo, hi)``: ``"<hidden>"`` for the architecture,
    #: ``"<class>/<hidden>"`` per class; ``"lungs_silhouette"``: its balanced accuracy.
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)


def _representations(scenario: str) -> tuple[list[str], str | None]:
    """What to train for a scenario, or why the scenario is skipped."""
    from hideseek.representations.registry import representation_names

    if scenario == "null":
        return ["data", "lungs_removed"], None
    reps = ["data", "lungs_removed", "lungs_boxed_out"]
    if scenario == "shape":
        if SILHOUETTE not in representation_names():
            return [], f"'{SILHOUETTE}' is not a registered representation yet"
        reps.append(SILHOUETTE)
    return reps, None


def _as_set(preds: Any) -> PredictionSet:
    """A :class:`~hideseek.classification.evaluate.Predictions` as the rule's input."""
    return PredictionSet(tuple(r.filename for r in preds.records),
                         tuple(r.patient_id for r in preds.records), np.asarray(preds.y),
                         np.asarray(preds.prob), tuple(preds.classes))


def scenario_predictions(scenario: str, reps: Sequence[str], setup: MatrixSetup,
                         out: Path) -> dict[str, PredictionSet]:
    """Train each representation on one phantom set, predict the other (the large test).

    Models and phantoms already in ``out`` (from an earlier call) are reused.
    """
    from hideseek.classification.config import TrainConfig
    from hideseek.classification.evaluate import evaluate
    from hideseek.classification.train import train_classifier
    from hideseek.data.manifest import load_dataset
    from hideseek.data.phantom import PhantomConfig, write_phantom_dataset

    k = list(EXPECTED).index(scenario) + 1
    sets = {}
    for part, n, seed in (("train", setup.n_train, 100 * k + setup.seed),
                          ("test", setup.n_large, 100 * k + 50 + setup.seed)):
        if not (out / part / "manifest.csv").is_file():
            write_phantom_dataset(out / part, PhantomConfig(
                scenario=scenario, n=n, size=setup.size, seed=seed, evidence=setup.evidence))
        sets[part] = load_dataset(out / part)
    preds = {}
    for rep in reps:
        cfg = TrainConfig(**{**setup.train, "representation": rep, "seed": setup.seed})
        model = out / "models" / rep
        if not (model / "best.pt").is_file():
            # Only best.pt is read again: the engine drops the resumable state once finished.
            train_classifier(sets["train"], model, cfg, masks_dir=out / "train" / "masks",
                             cache_dir=out / "cache")
        _, p = evaluate(model, sets["test"], masks_dir=out / "test" / "masks", split="all",
                        cache_dir=out / "cache", n_boot=0)
        preds[rep] = _as_set(p)
    return preds


def _bounds(v: ArchitectureVerdict) -> dict[str, tuple[float, float]]:
    out = {h: (hv.retained.lo, hv.retained.hi) for h, hv in v.hidden.items()}
    out |= {f"{c}/{h}": (hv.retained.lo, hv.retained.hi)
            for c, cv in v.per_class.items() for h, hv in cv.hidden.items()}
    if SILHOUETTE in v.balanced_accuracy:
        ba = v.balanced_accuracy[SILHOUETTE]
        out[SILHOUETTE] = (ba.lo, ba.hi)
    return out


def _row(scenario: str, size: str, v: ArchitectureVerdict) -> MatrixRow:
    words, check = EXPECTED[scenario]
    return MatrixRow(scenario, size, v.n_test, v.verdict,
                     {c: cv.verdict for c, cv in v.per_class.items()}, list(v.flags), words,
                     bool(check(v, size)), v.sentence, bounds=_bounds(v))


def run_matrix(out: str | Path, scenarios: Sequence[str] = tuple(EXPECTED),
               setup: MatrixSetup | None = None) -> list[MatrixRow]:
    """Train, test and judge every scenario at both test sizes.

    Args:
        out: Working folder (phantoms, models, cache); reused when rerun.
        scenarios: Which scenarios (keys of :data:`EXPECTED`).
        setup: Sizes, seeds and recipe.
    """
    setup = setup or MatrixSetup()
    rows = []
    for scenario in scenarios:
        reps, skipped = _representations(scenario)
        if skipped:
            rows += [MatrixRow(scenario, s, 0, "-", {}, [], EXPECTED[scenario][0], True,
                               skipped=skipped) for s in ("small", "large")]
            continue
        preds = scenario_predictions(scenario, reps, setup, Path(out) / scenario)
        small = preds["data"].filenames[: setup.n_small]
        for size, names in (("small", small), ("large", preds["data"].filenames)):
            v = decide({rep: [p.subset(names)] for rep, p in preds.items()})
            rows.append(_row(scenario, size, v))
            log.info("%s / %s: %s", scenario, size, v.sentence)
    return rows


def format_matrix(rows: Sequence[MatrixRow]) -> str:
    """The matrix as a Markdown table."""
    lines = ["| scenario | test | n | verdict | per class | flags | expected | right |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per = ", ".join(f"{c}: {v}" for c, v in r.per_class.items()) or "-"
        right = f"skipped ({r.skipped})" if r.skipped else ("yes" if r.ok else "NO")
        lines.append(f"| {r.scenario} | {r.test_size} | {r.n_test} | {r.verdict} | {per} | "
                     f"{', '.join(r.flags) or '-'} | {r.expected} | {right} |")
    return "\n".join(lines)
