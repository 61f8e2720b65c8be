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
import warnings
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
from hideseek.task import Task

__all__ = ["HIDDEN", "PRIMARY", "SILHOUETTE", "ArchitectureVerdict", "ClassVerdict",
           "HiddenVerdict", "Interval", "PredictionSet", "VerdictMargins", "combine", "decide",
           "read_predictions", "rule_text"]

#: The paper's hidden versions (the registry's ``hidden_representations()`` is what the rule
#: reads: a new representation registered with ``hides_lungs=True`` reaches the verdict).
HIDDEN = ("lungs_removed", "lungs_boxed_out")
SILHOUETTE = "lungs_silhouette"
#: The COVID preset's primary class (a task names its own: :attr:`Task.primary`).
PRIMARY = "COVID-19"
_ORDER = {"uses_lungs": 0, "both": 1, "shortcut": 2}


def hidden_versions() -> tuple[str, ...]:
    """The versions that hide the lungs, from the representation registry."""
    from hideseek.representations.registry import hidden_representations

    return hidden_representations()


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
        if not np.isfinite(self.value):  # e.g. retained skill of a model with none to retain
            return "undefined"
        return f"{self.value:.2f} [{self.lo:.2f}, {self.hi:.2f}]"


@dataclass(frozen=True)
class PredictionSet:
    """One model's predictions on the test images (one representation, one seed).

    Attributes:
        y: True class index per image; multi-label: N x K findings (1, 0, NaN uncertain).
        prob: N x K class probabilities (multi-label: per-finding probabilities).
        multilabel: The classes are findings.
    """

    filenames: tuple[str, ...]
    patients: tuple[str, ...]
    y: np.ndarray
    prob: np.ndarray
    classes: tuple[str, ...]
    multilabel: bool = False

    @property
    def pred(self) -> np.ndarray:
        """Predicted class index per image (multi-label: N x K, probability >= 0.5)."""
        return np.asarray(self.prob >= 0.5) if self.multilabel else np.asarray(
            self.prob.argmax(1))

    def subset(self, names: Sequence[str]) -> PredictionSet:
        """The same predictions restricted to (and ordered by) ``names``."""
        pos = {n: i for i, n in enumerate(self.filenames)}
        idx = np.array([pos[n] for n in names], dtype=np.int64)
        return PredictionSet(tuple(names), tuple(self.patients[i] for i in idx), self.y[idx],
                             self.prob[idx], self.classes, self.multilabel)

    def strata(self) -> np.ndarray:
        """Each image's stratum for the bootstrap: its class; multi-label: its rarest
        positive finding (K when it has none)."""
        if not self.multilabel:
            return np.asarray(self.y)
        pos = np.nan_to_num(self.y, nan=0.0) > 0
        freq = pos.sum(0)
        rank = np.where(pos, freq[None, :], np.inf)
        return np.where(pos.any(1), rank.argmin(1), len(self.classes))


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
    task: dict[str, Any] | None = None
    undertrained: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``verdicts.json`` entry (without the runner's legacy ``figures``)."""
        return {"verdict": self.verdict, "sentence": self.sentence, "rule": rule_text(
                    self.margins), "flags": list(self.flags), "missing": list(self.missing),
                "task": self.task, "undertrained": list(self.undertrained),
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
    multilabel = any(c.startswith("y_") for c in rows[0])
    try:
        if multilabel:
            y = np.array([[float(r[f"y_{c}"]) if r[f"y_{c}"] != "" else np.nan
                           for c in classes] for r in rows])
        else:
            y = np.array([classes.index(r["label"]) for r in rows], dtype=np.int64)
        prob = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path}: malformed predictions ({exc})") from exc
    return PredictionSet(tuple(r["filename"] for r in rows), tuple(r["patient_id"] for r in rows),
                         y, prob, classes, multilabel)


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
            if not np.array_equal(p.y, ref.y, equal_nan=ref.multilabel):
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
    hidden = hidden_versions()
    present = [h for h in hidden if h in preds]
    return present, [h for h in (*hidden, SILHOUETTE) if h not in preds]


def _class_auc(p: PredictionSet, c: int, weights: np.ndarray) -> np.ndarray:
    """Class ``c``'s one-vs-rest AUC (multi-label: finding ``c``'s, over the images where it
    is known) for each weight row."""
    if not p.multilabel:
        return weighted_auc(p.prob[:, c], p.y == c, weights)
    known = ~np.isnan(p.y[:, c])
    return weighted_auc(p.prob[known, c], p.y[known, c] > 0, weights[:, known])


def _endpoints(al: dict[str, list[PredictionSet]], rs: PatientResampler,
               k: int) -> dict[str, dict[str, np.ndarray]]:
    """Pooled bootstrap rows per representation: ``"ba"`` (the architecture's endpoint:
    balanced accuracy; multi-label: macro AUC) and ``"auc:<class index>"``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for rep, runs in al.items():
        ends: dict[str, np.ndarray] = {}
        per_seed = {c: np.vstack([_class_auc(p, c, rs.weights) for p in runs])
                    for c in range(k)}
        for c in range(k):
            ends[f"auc:{c}"] = rs.pool(per_seed[c])
        if runs[0].multilabel:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a finding absent everywhere
                ends["ba"] = rs.pool(np.nanmean(np.stack(list(per_seed.values())), axis=0))
        else:
            ends["ba"] = rs.pool(np.vstack([weighted_balanced_accuracy(
                p.y, p.pred, rs.weights, k) for p in runs]))
        out[rep] = ends
    return out


def decide(preds: Mapping[str, Sequence[PredictionSet]], margins: VerdictMargins | None = None,
           seeds: Sequence[int] | None = None, task: Task | None = None,
           convergence: Mapping[str, Sequence[Mapping[str, Any] | None]] | None = None
           ) -> ArchitectureVerdict:
    """The verdict for one architecture.

    Args:
        preds: Per representation, one prediction set per training seed (same seed order in
            every representation; seed ``i`` of each is paired). Needs ``data`` and at least
            one version that hides the lungs (the registry's: ``lungs_removed``,
            ``lungs_boxed_out``); ``lungs_silhouette`` is used as a control when present;
            other representations are reported, not decided on.
        margins: The rule's margins and bootstrap settings.
        seeds: The seed numbers (for the record only).
        task: The task of the predictions (its primary class and kind); default: the COVID
            preset's primary (COVID-19) when it is one of the classes.
        convergence: Per representation, each seed's convergence record
            (:class:`~hideseek.engine.convergence.Convergence` as JSON): a model stopped while
            still learning flags the verdict ``undertrained`` (as does an originals' model
            beaten by a version that sees less).

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
    rs = PatientResampler.draw(ref.strata(), ref.patients, n_seeds, m.n_boot, m.seed)
    ends = _endpoints(al, rs, k)
    ba = {rep: _interval(e["ba"], level) for rep, e in ends.items()}
    # balanced accuracy averages the classes present in the test set: its chance is 1/K of those
    chance = 0.5 if ref.multilabel else 1.0 / max(1, len(np.unique(ref.y)))
    n = len(ref.y)
    primary = task.primary if task is not None else (PRIMARY if PRIMARY in ref.classes
                                                     else None)
    arch_h = {h: _decide_one(ba["data"].lo, chance + m.learned_margin, _interval(
        _retained(ends[h]["ba"], ends["data"]["ba"], chance), level), n, m) for h in hidden}
    per_class = {}
    for c, label in enumerate(ref.classes):
        key = f"auc:{c}"
        aucs = {rep: _interval(e[key], level) for rep, e in ends.items()}
        ch = {h: _decide_one(aucs["data"].lo, 0.5 + m.learned_margin, _interval(
            _retained(ends[h][key], ends["data"][key], 0.5), level), n, m) for h in hidden}
        per_class[label] = ClassVerdict(label, combine(list(ch.values()), m), aucs, ch)
    v, flags = _overall(arch_h, per_class, ba, chance, primary, m)
    under = _undertrained(convergence or {}, ends, hidden, level,
                          list(seeds) if seeds is not None else list(range(n_seeds)))
    if under.data or under.hidden:
        flags.append("undertrained")
        v = under.verdict(v)
    word = "finding" if ref.multilabel else "class"
    sentence = _sentence(v, arch_h, per_class, flags, missing, level, n, n_seeds, word)
    if under.data or under.hidden:
        sentence += "; " + under.sentence()
    return ArchitectureVerdict(
        verdict=v, sentence=sentence,
        hidden=arch_h, per_class=per_class, balanced_accuracy=ba, flags=flags,
        missing=missing, n_test=n, n_patients=len(set(ref.patients)),
        seeds=list(seeds) if seeds is not None else list(range(n_seeds)), level=level,
        primary=primary, margins=m, task=_task_json(task, ref), undertrained=under.notes())


#: Versions that keep less of the image than the originals (the registry's non-hiding,
#: non-control versions other than ``data``): a model trained on one of them cannot beat the
#: originals' model unless that one did not learn what its input allows.
def less_informative() -> tuple[str, ...]:
    """``lungs_isolated``, ``lungs_framed`` and any registered version like them."""
    from hideseek.representations.registry import representation_names

    hidden = set(hidden_versions())
    return tuple(r for r in representation_names(controls=False)
                 if r != "data" and r not in hidden)


@dataclass(frozen=True)
class _Undertrained:
    """Which models of a verdict did not reach what their input allows, and why."""

    data: list[str]
    hidden: list[str]

    def verdict(self, v: str) -> str:
        """The verdict the evidence still supports. An under-trained original model inflates
        the retained skill (its skill is the denominator), so ``shortcut`` / ``both`` are not
        stated; an under-trained hidden-version model deflates it, so ``uses_lungs`` is not."""
        if self.data and v in ("shortcut", "both"):
            return "inconclusive"
        if self.hidden and v == "uses_lungs":
            return "inconclusive"
        return v

    def notes(self) -> list[str]:
        """Every finding, in words."""
        return [*self.data, *self.hidden]

    def sentence(self) -> str:
        """The flag's part of the verdict's sentence."""
        return ("undertrained: " + "; ".join(self.notes()) + " - the retained skill is biased "
                "(retrain to convergence: more epochs, a later or no early stop)")


def _undertrained(convergence: Mapping[str, Sequence[Mapping[str, Any] | None]],
                  ends: dict[str, dict[str, np.ndarray]], hidden: list[str], level: float,
                  seeds: list[int]) -> _Undertrained:
    """The models stopped while still learning (their convergence records) and an original
    model beaten, beyond the paired interval, by a version holding less information."""
    data: list[str] = []
    hid: list[str] = []
    for rep, records in convergence.items():
        for seed, c in zip(seeds, records, strict=False):
            if c and c.get("still_improving"):
                note = f"{rep} (seed {seed}) {c.get('reason', 'stopped while still learning')}"
                if rep == "data":
                    data.append(note)
                elif rep in hidden:
                    hid.append(note)
    for rep in less_informative():
        if rep in ends:
            gap = _interval(ends[rep]["ba"] - ends["data"]["ba"], level)
            if gap.lo > 0:
                data.append(f"the {rep} model beats the originals' model by {gap} (it sees "
                            "less, so the originals' model has not learned what it could)")
    return _Undertrained(data, hid)


def _task_json(task: Task | None, ref: PredictionSet) -> dict[str, Any]:
    """``{"kind", "classes", "primary"}`` of the verdict's task."""
    if task is not None:
        return task.to_json()
    return {"kind": "multilabel" if ref.multilabel else "multiclass",
            "classes": list(ref.classes),
            "primary": PRIMARY if PRIMARY in ref.classes and not ref.multilabel else None}


def _overall(arch_h: dict[str, HiddenVerdict], per_class: dict[str, ClassVerdict],
             ba: dict[str, Interval], chance: float, primary_class: str | None,
             m: VerdictMargins) -> tuple[str, list[str]]:
    """The architecture's verdict and its flags."""
    flags: list[str] = []
    per = [h.verdict for h in arch_h.values()]
    v = combine(list(arch_h.values()), m)
    decisive = [p for p in per if p in _ORDER]
    if len(decisive) == len(arch_h) > 1 and len(set(decisive)) > 1:
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
    primary = per_class.get(primary_class) if primary_class is not None else None
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
              word: str = "class") -> str:
    parts = [f"{v}: {_WORDS[v]}"]
    if arch_h:
        kept = "; ".join(f"{h.replace('_', ' ')} {r.retained}" for h, r in arch_h.items())
        endpoint = "macro-AUC" if word == "finding" else "balanced-accuracy"
        parts.append(f"{endpoint} skill retained {kept} ({level:.1%} intervals, "
                     f"{n} test images, {n_seeds} seed{'s' * (n_seeds > 1)})")
    short = [c for c, cv in per_class.items() if cv.verdict == "shortcut"]
    if short:
        many = "classes" if word == "class" else f"{word}s"
        parts.append(f"{many if len(short) > 1 else word} read as shortcut: "
                     f"{', '.join(short)}")
    cls = ", ".join(f"{c} {cv.verdict}" for c, cv in per_class.items())
    parts.append(f"per {word}: {cls}")
    need = [h.n_needed for h in arch_h.values() if h.n_needed]
    if v == "inconclusive" and need:
        parts.append(f"about {max(need)} test images would settle it")
    if missing:
        parts.append(f"not run: {', '.join(missing)}")
    if flags:
        parts.append(f"flags: {', '.join(flags)}")
    return "; ".join(parts)
