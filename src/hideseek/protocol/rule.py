"""The verdict rule as pure functions of prediction sets (see ``docs/VERDICTS.md``).

For every hidden version H (``lungs_removed``, ``lungs_boxed_out``) and endpoint E (balanced
accuracy for the architecture, one-vs-rest AUC per class) the rule estimates the retained skill
``R = (E_H - chance) / (E_data - chance)``, pooled over seeds, with a paired bootstrap interval
that resamples seeds and then patients within class, at a Bonferroni-corrected level. Margins
fixed in advance turn the interval into ``uses_lungs`` / ``both`` / ``shortcut`` /
``inconclusive``; ``not_learned`` when the original model does not clear chance by a margin.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hideseek.errors import DataError
from hideseek.protocol.resample import (
    PatientResampler,
    weighted_auc,
    weighted_balanced_accuracy,
)

__all__ = ["HIDDEN", "PRIMARY", "SILHOUETTE", "ArchitectureVerdict", "ClassVerdict",
           "HiddenVerdict", "Interval", "PredictionSet", "VerdictMargins", "combine", "decide",
           "read_predictions", "rule_text"]

HIDDEN = ("lungs_removed", "lungs_boxed_out")
SILHOUETTE = "lungs_silhouette"
PRIMARY = "COVID-19"
_ORDER = {"uses_lungs": 0, "both": 1, "shortcut": 2}


@dataclass(frozen=True)
class VerdictMargins:
    """The rule's margins and bootstrap, fixed before looking at the results.

    Attributes:
        uses_lungs_max: ``uses_lungs`` when the retained skill's upper bound is at most this.
        shortcut_min: ``shortcut`` when its lower bound is at least this.
        learned_margin: The original model must clear chance by this much (lower bound of
            balanced accuracy above ``1/K + margin``; of AUC above ``0.5 + margin``).
        alpha: Family-wise error rate, split over the decisions (Bonferroni).
        n_boot: Bootstrap replicates.
        seed: Bootstrap seed.
    """

    uses_lungs_max: float = 0.25
    shortcut_min: float = 0.75
    learned_margin: float = 0.1
    alpha: float = 0.05
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.uses_lungs_max < self.shortcut_min <= 1.0:
            raise ValueError("margins need 0 <= uses_lungs_max < shortcut_min <= 1")
        if not 0.0 < self.alpha < 1.0 or self.n_boot < 100:
            raise ValueError("alpha must be in (0, 1) and n_boot >= 100")


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval."""

    value: float
    lo: float
    hi: float

    def to_json(self) -> dict[str, Any]:
        """``{"value", "ci"}`` (``None`` for undefined numbers)."""
        return {"value": _num(self.value), "ci": [_num(self.lo), _num(self.hi)]}

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.lo:.2f}, {self.hi:.2f}]"


@dataclass(frozen=True)
class PredictionSet:
    """One model's predictions on the test images (one representation, one seed)."""

    filenames: tuple[str, ...]
    patients: tuple[str, ...]
    y: np.ndarray
    prob: np.ndarray
    classes: tuple[str, ...]

    @property
    def pred(self) -> np.ndarray:
        """Predicted class index per image."""
        return np.asarray(self.prob.argmax(1))

    def subset(self, names: Sequence[str]) -> PredictionSet:
        """The same predictions restricted to (and ordered by) ``names``."""
        pos = {n: i for i, n in enumerate(self.filenames)}
        idx = np.array([pos[n] for n in names], dtype=np.int64)
        return PredictionSet(tuple(names), tuple(self.patients[i] for i in idx), self.y[idx],
                             self.prob[idx], self.classes)


@dataclass(frozen=True)
class HiddenVerdict:
    """One endpoint's decision for one hidden version."""

    verdict: str
    retained: Interval
    n_needed: int | None = None


@dataclass(frozen=True)
class ClassVerdict:
    """One class, one-vs-rest AUC: its combined verdict and one decision per hidden version."""

    label: str
    verdict: str
    auc: dict[str, Interval]
    hidden: dict[str, HiddenVerdict]

    def to_json(self) -> dict[str, Any]:
        """``{"verdict", "retained": {rep: {"value", "ci"}}, "auc", "per_hidden"}``."""
        return {"verdict": self.verdict,
                "retained": {r: h.retained.to_json() for r, h in self.hidden.items()},
                "auc": {r: a.to_json() for r, a in self.auc.items()},
                "per_hidden": {r: h.verdict for r, h in self.hidden.items()},
                "n_needed": {r: h.n_needed for r, h in self.hidden.items()}}


@dataclass(frozen=True)
class ArchitectureVerdict:
    """The verdict for one architecture, with everything it was made from."""

    verdict: str
    sentence: str
    hidden: dict[str, HiddenVerdict]
    per_class: dict[str, ClassVerdict]
    balanced_accuracy: dict[str, Interval]
    flags: list[str]
    missing: list[str]
    n_test: int
    n_patients: int
    seeds: list[int]
    level: float
    primary: str | None
    margins: VerdictMargins = field(default_factory=VerdictMargins)

    def to_json(self) -> dict[str, Any]:
        """The ``verdicts.json`` entry (without the runner's legacy ``figures``)."""
        return {"verdict": self.verdict, "sentence": self.sentence, "rule": rule_text(
                    self.margins), "flags": list(self.flags), "missing": list(self.missing),
                "retained": {r: h.retained.to_json() for r, h in self.hidden.items()},
                "per_hidden": {r: h.verdict for r, h in self.hidden.items()},
                "n_needed": {r: h.n_needed for r, h in self.hidden.items()},
                "per_class": {c: v.to_json() for c, v in self.per_class.items()},
                "balanced_accuracy": {r: b.to_json() for r, b in
                                      self.balanced_accuracy.items()},
                "primary": self.primary, "n_test": self.n_test, "n_patients": self.n_patients,
                "seeds": list(self.seeds), "level": self.level,
                "margins": {"uses_lungs_max": self.margins.uses_lungs_max,
                            "shortcut_min": self.margins.shortcut_min,
                            "learned_margin": self.margins.learned_margin,
                            "alpha": self.margins.alpha, "n_boot": self.margins.n_boot}}


def rule_text(m: VerdictMargins | None = None) -> str:
    """The rule in one paragraph, with its margins."""
    m = m or VerdictMargins()
    return (f"For each hidden version (lungs removed, lungs boxed out) retrained and tested on "
            f"the same test images as the originals: retained skill R = (E_hidden - chance) / "
            f"(E_data - chance), E = balanced accuracy (chance 1/K) per architecture and "
            f"one-vs-rest AUC (chance 0.5) per class, pooled over seeds; interval from a "
            f"bootstrap of seeds then patients within class, Bonferroni-corrected over all "
            f"decisions (family-wise {m.alpha:g}). 'uses_lungs' if the upper bound <= "
            f"{m.uses_lungs_max:g}; 'shortcut' if the lower bound >= {m.shortcut_min:g}; "
            f"'both' if the interval lies between; 'inconclusive' otherwise or when the "
            f"hidden versions disagree; 'not_learned' when the original model's lower bound "
            f"does not clear chance + {m.learned_margin:g}.")


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def read_predictions(path: str | Path) -> PredictionSet:
    """Read a cell's ``predictions.csv`` (``filename, patient_id, label, p_<class>...``)."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"{path}: cannot read predictions ({exc.strerror or exc})") from exc
    if not rows:
        raise DataError(f"{path}: no predictions")
    classes = tuple(c[2:] for c in rows[0] if c.startswith("p_"))
    try:
        y = np.array([classes.index(r["label"]) for r in rows], dtype=np.int64)
        prob = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path}: malformed predictions ({exc})") from exc
    return PredictionSet(tuple(r["filename"] for r in rows), tuple(r["patient_id"] for r in rows),
                         y, prob, classes)


def _align(preds: Mapping[str, Sequence[PredictionSet]]) -> dict[str, list[PredictionSet]]:
    """Restrict every prediction set to the images all of them share."""
    sets = [p for runs in preds.values() for p in runs]
    shared = set(sets[0].filenames).intersection(*(p.filenames for p in sets[1:]))
    names = [n for n in sets[0].filenames if n in shared]
    if not names:
        raise DataError("the representations' prediction sets share no test image")
    if any(p.classes != sets[0].classes for p in sets):
        raise DataError("the prediction sets have different class lists")
    out = {rep: [p.subset(names) for p in runs] for rep, runs in preds.items()}
    ref = out[next(iter(out))][0]
    for runs in out.values():
        for p in runs:
            if not np.array_equal(p.y, ref.y):
                raise DataError("the prediction sets disagree on the true labels")
    return out


def _interval(boot: np.ndarray, level: float) -> Interval:
    """Percentile interval; unbounded when too many replicates are undefined."""
    rest = boot[1:]
    finite = rest[np.isfinite(rest)]
    tail = (1 - level) / 2
    if finite.size < (1 - tail) * rest.size or not math.isfinite(boot[0]):
        return Interval(float(boot[0]), -math.inf, math.inf)
    lo, hi = np.quantile(finite, [tail, 1 - tail])
    return Interval(float(boot[0]), float(lo), float(hi))


def _retained(hidden: np.ndarray, data: np.ndarray, chance: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (hidden - chance) / (data - chance)
    return np.where(data - chance > 1e-9, r, np.nan)


def _needed(r: Interval, n: int, m: VerdictMargins) -> int | None:
    """Test images that would shrink the interval enough to decide, width ~ 1/sqrt(n)."""
    width = r.hi - r.lo
    gap = 2 * min(abs(r.value - m.uses_lungs_max), abs(r.value - m.shortcut_min))
    if not math.isfinite(width) or gap < 0.02:
        return None
    return math.ceil(n * (width / gap) ** 2)


def _decide_one(data_lo: float, floor: float, r: Interval, n: int,
                m: VerdictMargins) -> HiddenVerdict:
    if not data_lo > floor:
        return HiddenVerdict("not_learned", r)
    if r.hi <= m.uses_lungs_max:
        return HiddenVerdict("uses_lungs", r)
    if r.lo >= m.shortcut_min:
        return HiddenVerdict("shortcut", r)
    if r.lo > m.uses_lungs_max and r.hi < m.shortcut_min:
        return HiddenVerdict("both", r)
    return HiddenVerdict("inconclusive", r, _needed(r, n, m))


def combine(verdicts: Sequence[HiddenVerdict], margins: VerdictMargins | None = None) -> str:
    """One verdict from the hidden versions' decisions.

    Theirs when they agree. Otherwise, when every version's interval lies above
    ``uses_lungs_max`` (skill outside the lungs is established in each): ``shortcut`` if one
    is ``shortcut`` and none is ``both``, else ``both``. ``inconclusive`` in every other case.
    """
    m = margins or VerdictMargins()
    names = [h.verdict for h in verdicts]
    if not names:
        return "inconclusive"
    if len(set(names)) == 1:
        return names[0]
    if "not_learned" in names:
        return "not_learned"
    if all(h.retained.lo > m.uses_lungs_max for h in verdicts):
        return "shortcut" if "shortcut" in names and "both" not in names else "both"
    return "inconclusive"


def _hidden_reps(preds: Mapping[str, Sequence[PredictionSet]]) -> tuple[list[str], list[str]]:
    present = [h for h in HIDDEN if h in preds]
    return present, [h for h in (*HIDDEN, SILHOUETTE) if h not in preds]


def _endpoints(al: dict[str, list[PredictionSet]], rs: PatientResampler,
               k: int) -> dict[str, dict[str, np.ndarray]]:
    """Pooled bootstrap rows per representation: ``"ba"`` and ``"auc:<class index>"``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for rep, runs in al.items():
        ends: dict[str, np.ndarray] = {}
        ends["ba"] = rs.pool(np.vstack([weighted_balanced_accuracy(
            p.y, p.pred, rs.weights, k) for p in runs]))
        for c in range(k):
            ends[f"auc:{c}"] = rs.pool(np.vstack([weighted_auc(
                p.prob[:, c], p.y == c, rs.weights) for p in runs]))
        out[rep] = ends
    return out


def decide(preds: Mapping[str, Sequence[PredictionSet]], margins: VerdictMargins | None = None,
           seeds: Sequence[int] | None = None) -> ArchitectureVerdict:
    """The verdict for one architecture.

    Args:
        preds: Per representation, one prediction set per training seed (same seed order in
            every representation; seed ``i`` of each is paired). Needs ``data`` and at least
            one of ``lungs_removed`` / ``lungs_boxed_out``; ``lungs_silhouette`` is used as a
            control when present; other representations are reported, not decided on.
        margins: The rule's margins and bootstrap settings.
        seeds: The seed numbers (for the record only).

    Raises:
        DataError: ``data`` is missing, or the prediction sets cannot be paired.
    """
    m = margins or VerdictMargins()
    if "data" not in preds or not preds["data"]:
        raise DataError("the verdict needs the model trained on the originals ('data')")
    n_seeds = min(len(v) for v in preds.values())
    al = _align({r: list(v)[:n_seeds] for r, v in preds.items() if v})
    ref = al["data"][0]
    k = len(ref.classes)
    hidden, missing = _hidden_reps(al)
    n_dec = max(1, len(hidden) * (1 + k) + (SILHOUETTE in al))
    level = 1 - m.alpha / n_dec
    rs = PatientResampler.draw(ref.y, ref.patients, n_seeds, m.n_boot, m.seed)
    ends = _endpoints(al, rs, k)
    ba = {rep: _interval(e["ba"], level) for rep, e in ends.items()}
    chance = 1.0 / k
    n = len(ref.y)
    arch_h = {h: _decide_one(ba["data"].lo, chance + m.learned_margin, _interval(
        _retained(ends[h]["ba"], ends["data"]["ba"], chance), level), n, m) for h in hidden}
    per_class = {}
    for c, label in enumerate(ref.classes):
        key = f"auc:{c}"
        aucs = {rep: _interval(e[key], level) for rep, e in ends.items()}
        ch = {h: _decide_one(aucs["data"].lo, 0.5 + m.learned_margin, _interval(
            _retained(ends[h][key], ends["data"][key], 0.5), level), n, m) for h in hidden}
        per_class[label] = ClassVerdict(label, combine(list(ch.values()), m), aucs, ch)
    v, flags = _overall(arch_h, per_class, ba, chance, ref.classes, m)
    return ArchitectureVerdict(
        verdict=v, sentence=_sentence(v, arch_h, per_class, flags, missing, level, n,
                                      n_seeds, m),
        hidden=arch_h, per_class=per_class, balanced_accuracy=ba, flags=flags,
        missing=missing, n_test=n, n_patients=len(set(ref.patients)),
        seeds=list(seeds) if seeds is not None else list(range(n_seeds)), level=level,
        primary=PRIMARY if PRIMARY in ref.classes else None, margins=m)


def _overall(arch_h: dict[str, HiddenVerdict], per_class: dict[str, ClassVerdict],
             ba: dict[str, Interval], chance: float, classes: tuple[str, ...],
             m: VerdictMargins) -> tuple[str, list[str]]:
    """The architecture's verdict and its flags."""
    flags: list[str] = []
    per = [h.verdict for h in arch_h.values()]
    v = combine(list(arch_h.values()), m)
    decisive = [p for p in per if p in _ORDER]
    if len(decisive) == len(HIDDEN) and len(set(decisive)) > 1:
        flags.append("mask_shape_dependent")
    if any(len({h.verdict for h in cv.hidden.values()} & set(_ORDER)) > 1
           for cv in per_class.values()) and "mask_shape_dependent" not in flags:
        flags.append("mask_shape_dependent")
    if SILHOUETTE in ba and ba[SILHOUETTE].lo > chance:
        flags.append("silhouette_predicts_class")
    shortcut_classes = [c for c, cv in per_class.items() if cv.verdict == "shortcut"]
    if 0 < len(shortcut_classes) < len(per_class) and v not in ("shortcut", "not_learned"):
        flags.append("class_specific_shortcut")
        if v == "uses_lungs":
            v = "both"  # some class is told apart without the lungs: never call it lung-only
    primary = per_class.get(PRIMARY) if PRIMARY in classes else None
    if primary is not None and primary.verdict in ("shortcut", "both") and v == "uses_lungs":
        v = "both"
    return v, flags


_WORDS = {"uses_lungs": "relies on the lungs", "shortcut": "uses information outside the lungs",
          "both": "uses the lungs and information outside them",
          "inconclusive": "the test does not settle where the model looks",
          "not_learned": "the model on the originals did not learn the task well enough to "
          "judge"}


def _sentence(v: str, arch_h: dict[str, HiddenVerdict], per_class: dict[str, ClassVerdict],
              flags: list[str], missing: list[str], level: float, n: int, n_seeds: int,
              m: VerdictMargins) -> str:
    parts = [f"{v}: {_WORDS[v]}"]
    if arch_h:
        kept = "; ".join(f"{h.replace('_', ' ')} {r.retained}" for h, r in arch_h.items())
        parts.append(f"balanced-accuracy skill retained {kept} ({level:.1%} intervals, "
                     f"{n} test images, {n_seeds} seed{'s' * (n_seeds > 1)})")
    cls = ", ".join(f"{c} {cv.verdict}" for c, cv in per_class.items())
    parts.append(f"per class: {cls}")
    need = [h.n_needed for h in arch_h.values() if h.n_needed]
    if v == "inconclusive" and need:
        parts.append(f"about {max(need)} test images would settle it")
    if missing:
        parts.append(f"not run: {', '.join(missing)}")
    if flags:
        parts.append(f"flags: {', '.join(flags)}")
    return "; ".join(parts)
