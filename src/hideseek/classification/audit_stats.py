"""The audit's statistics: paired drops against matched controls and the per-model verdict.

All intervals come from one percentile bootstrap that resamples *patients* (every image of a
drawn patient enters with the patient's multiplicity), so images of one patient are never
treated as independent. Intervals are Bonferroni-corrected for the number of decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from hideseek.bootstrap import patient_weights

__all__ = ["AUDIT_VERDICTS", "AuditDecision", "AuditEffects", "Estimate", "audit_effects",
           "audit_verdict", "patient_weights"]

AUDIT_VERDICTS = ("relies_on_lungs", "relies_outside", "both", "inconclusive")
SCREEN = ("a screen of this one trained model on its own test images (no retraining): it says "
          "where this model's decisions come from, not what the data allow")


class _Preds(Protocol):
    y: np.ndarray
    pred: np.ndarray
    prob: np.ndarray


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its (corrected) bootstrap interval."""

    value: float | None
    ci: tuple[float | None, float | None]

    def to_json(self) -> dict[str, Any]:
        """``{"value", "ci"}``."""
        return {"value": self.value, "ci": list(self.ci)}


@dataclass(frozen=True)
class AuditEffects:
    """Drops of one hiding representation, each paired with ``data`` on the same images.

    Attributes:
        drop: Balanced accuracy on ``data`` minus on the hidden version.
        control_drop: The same for the matched control (equal area elsewhere, same fill).
        net_drop: ``drop - control_drop``: what hiding the lungs costs beyond hiding any area.
        hidden: Balanced accuracy on the hidden version.
        prob_drop, prob_control_drop, prob_net_drop: The same three on the mean true-class
            probability.
        control_area_ratio: Mean control area over hidden area (1.0 = matched).
    """

    drop: Estimate
    control_drop: Estimate
    net_drop: Estimate
    hidden: Estimate
    prob_drop: Estimate
    prob_control_drop: Estimate
    prob_net_drop: Estimate
    control_area_ratio: float | None = None


@dataclass(frozen=True)
class AuditDecision:
    """The audit's verdict on one model, with what it rests on."""

    verdict: str
    reason: str
    chance: float
    data_balanced_accuracy: Estimate
    lungs_matter: list[str] = field(default_factory=list)
    outside_used: list[str] = field(default_factory=list)
    min_effect: float = 0.10
    level: float = 0.95

    def to_json(self) -> dict[str, Any]:
        """The ``audit`` block of ``hideseek audit --json``."""
        return {"verdict": self.verdict, "scope": SCREEN, "reason": self.reason,
                "chance": self.chance,
                "data_balanced_accuracy": self.data_balanced_accuracy.to_json(),
                "lungs_matter": self.lungs_matter, "outside_used": self.outside_used,
                "min_effect": self.min_effect, "level": self.level}


def _balanced_accuracy(y: np.ndarray, correct: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted balanced accuracy per weight row (classes absent from a row are skipped)."""
    recalls = []
    for c in np.unique(y):
        support = (w * (y == c)).sum(-1)
        hits = (w * ((y == c) & correct)).sum(-1)
        recalls.append(np.where(support > 0, hits / np.maximum(support, 1e-12), np.nan))
    return np.asarray(np.nanmean(np.stack(recalls), axis=0))


def _estimate(point: float, boots: np.ndarray, level: float) -> Estimate:
    b = boots[np.isfinite(boots)]
    if b.size < 10:
        return Estimate(float(point), (None, None))
    tail = (1 - level) / 2 * 100
    return Estimate(float(point), (float(np.percentile(b, tail)),
                                   float(np.percentile(b, 100 - tail))))


def _true_prob(p: _Preds) -> np.ndarray:
    return np.asarray(p.prob[np.arange(len(p.y)), p.y], dtype=np.float64)


def audit_effects(base: _Preds, hidden: _Preds, control: _Preds, groups: Sequence[str],
                  n_boot: int = 1000, seed: int = 0, n_decisions: int = 1,
                  area_ratio: float | None = None) -> AuditEffects:
    """Paired drops of a hiding representation and of its matched control (see
    :class:`AuditEffects`), with patient-bootstrap intervals at 95% / ``n_decisions``."""
    level = 1 - 0.05 / n_decisions
    y = base.y
    w = np.vstack([np.ones(len(y)), patient_weights(groups, n_boot, seed)])
    bacc = {k: _balanced_accuracy(y, p.pred == y, w)
            for k, p in (("data", base), ("hidden", hidden), ("control", control))}
    prob = {k: (w * _true_prob(p)).sum(-1) / w.sum(-1)
            for k, p in (("data", base), ("hidden", hidden), ("control", control))}

    def est(v: np.ndarray) -> Estimate:
        return _estimate(v[0], v[1:], level)

    return AuditEffects(
        drop=est(bacc["data"] - bacc["hidden"]),
        control_drop=est(bacc["data"] - bacc["control"]),
        net_drop=est(bacc["control"] - bacc["hidden"]), hidden=est(bacc["hidden"]),
        prob_drop=est(prob["data"] - prob["hidden"]),
        prob_control_drop=est(prob["data"] - prob["control"]),
        prob_net_drop=est(prob["control"] - prob["hidden"]), control_area_ratio=area_ratio)


def audit_verdict(base: _Preds, effects: dict[str, AuditEffects], groups: Sequence[str],
                  n_boot: int = 1000, seed: int = 0, min_effect: float = 0.10) -> AuditDecision:
    """The audit's verdict on one model (the rule of docs/AUDIT.md).

    ``lungs_matter``: some hiding representation's net drop has its lower bound above 0 and its
    value at least ``min_effect``. ``outside_used``: with the lungs hidden the balanced accuracy's
    lower bound still exceeds chance (1/K) by ``min_effect``. Both -> ``both``; one of them ->
    ``relies_on_lungs`` / ``relies_outside``; neither, no hiding representation, or a model that
    does not clear chance on ``data`` -> ``inconclusive``.
    """
    n_dec = max(1, 2 * len(effects))
    level = 1 - 0.05 / n_dec
    chance = 1.0 / max(1, len(np.unique(base.y)))
    w = np.vstack([np.ones(len(base.y)), patient_weights(groups, n_boot, seed)])
    b = _balanced_accuracy(base.y, base.pred == base.y, w)
    data_bacc = _estimate(b[0], b[1:], level)
    lungs = [r for r, e in effects.items() if e.net_drop.ci[0] is not None
             and e.net_drop.ci[0] > 0 and (e.net_drop.value or 0.0) >= min_effect]
    outside = [r for r, e in effects.items() if e.hidden.ci[0] is not None
               and e.hidden.ci[0] > chance + min_effect]

    def decide(verdict: str, reason: str) -> AuditDecision:
        return AuditDecision(verdict, reason, chance, data_bacc, lungs, outside, min_effect,
                             level)

    if not effects:
        return decide("inconclusive", "no audited representation hides the lungs")
    lo = data_bacc.ci[0]
    if lo is None or lo <= chance + min_effect:
        return decide("inconclusive", "the model does not clear chance on the original images")
    return decide(*_rule(bool(lungs), bool(outside)))


def _rule(lungs: bool, outside: bool) -> tuple[str, str]:
    if lungs and outside:
        return "both", ("hiding the lungs costs more than hiding an equal area elsewhere, and "
                        "the model stays above chance without them")
    if lungs:
        return "relies_on_lungs", ("hiding the lungs costs more than hiding an equal area "
                                   "elsewhere, and the model falls to chance without them")
    if outside:
        return "relies_outside", ("the model stays above chance with the lungs hidden, and "
                                  "hiding them costs no more than hiding an equal area elsewhere")
    return "inconclusive", ("neither a net drop nor above-chance skill without the lungs is "
                            "clear at this test size")
