"""The audit's statistics: paired drops against matched controls and the per-model verdict.

All intervals come from one percentile bootstrap that resamples *patients* (every image of a
drawn patient enters with the patient's multiplicity), so images of one patient are never
treated as independent. Intervals are Bonferroni-corrected for the number of decisions.

The endpoint is balanced accuracy for a multiclass model (chance 1/K of the classes present)
and the macro AUC of a multi-label one (chance 0.5), where every finding also gets its own
effects and verdict on its AUC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from hideseek.bootstrap import patient_weights, weighted_auc

__all__ = ["AUDIT_FLAGS", "AUDIT_VERDICTS", "AuditDecision", "AuditEffects", "Estimate",
           "HiddenCheck", "audit_decisions", "audit_effects", "audit_verdict",
           "patient_weights"]

AUDIT_VERDICTS = ("relies_on_lungs", "relies_outside", "both", "inconclusive")
#: Flags of the audit's verdict (see docs/AUDIT.md).
AUDIT_FLAGS = ("region_around_lungs", "fill_detectable", "control_unmatched", "lung_context")
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
class Drops:
    """One endpoint's paired drops for one hiding representation."""

    drop: Estimate
    control_drop: Estimate
    net_drop: Estimate
    hidden: Estimate

    def to_json(self) -> dict[str, Any]:
        """``{"drop", "control_drop", "net_drop", "hidden"}``."""
        return {"drop": self.drop.to_json(), "control_drop": self.control_drop.to_json(),
                "net_drop": self.net_drop.to_json(), "hidden": self.hidden.to_json()}


@dataclass(frozen=True)
class AuditEffects:
    """Drops of one hiding representation, each paired with ``data`` on the same images.

    Attributes:
        drop: The endpoint (balanced accuracy; multi-label: macro AUC) on ``data`` minus on
            the hidden version.
        control_drop: The same for the matched control (equal area elsewhere, same fill,
            matched disturbance).
        net_drop: ``drop - control_drop``: what hiding the lungs costs beyond hiding any area.
        hidden: The endpoint on the hidden version.
        prob_drop, prob_control_drop, prob_net_drop: The same three on the mean probability of
            the true answer (multi-label: of each known finding's true state).
        control_area_ratio: Mean control area over hidden area (1.0 = matched).
        control_disturbance_ratio: Mean change the fill makes in the control region over the
            change it makes in the hidden region (1.0 = matched).
        per_finding: Multi-label: each finding's drops on its AUC.
    """

    drop: Estimate
    control_drop: Estimate
    net_drop: Estimate
    hidden: Estimate
    prob_drop: Estimate
    prob_control_drop: Estimate
    prob_net_drop: Estimate
    control_area_ratio: float | None = None
    control_disturbance_ratio: float | None = None
    per_finding: dict[str, Drops] = field(default_factory=dict)


@dataclass(frozen=True)
class HiddenCheck:
    """Whether a hiding representation's net drop can be read as reliance on what it hides.

    Attributes:
        usable: The fill is not detectable and the control matches the hidden region.
        flag: ``fill_detectable`` or ``control_unmatched`` when not usable.
        why: In words.
    """

    usable: bool = True
    flag: str | None = None
    why: str = ""


@dataclass(frozen=True)
class AuditDecision:
    """The audit's verdict on one model, with what it rests on.

    ``per_finding`` (multi-label): each finding's verdict on its AUC, and ``per_finding_reasons``
    why, in words (e.g. why a finding is ``inconclusive``: no positive test image, no skill).
    """

    verdict: str
    reason: str
    chance: float
    data_balanced_accuracy: Estimate
    lungs_matter: list[str] = field(default_factory=list)
    outside_used: list[str] = field(default_factory=list)
    min_effect: float = 0.10
    level: float = 0.95
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    endpoint: str = "balanced_accuracy"
    per_finding: dict[str, str] = field(default_factory=dict)
    per_finding_reasons: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``audit`` block of ``hideseek audit --json``."""
        out = {"verdict": self.verdict, "scope": SCREEN, "reason": self.reason,
               "chance": self.chance,
               "data_balanced_accuracy": self.data_balanced_accuracy.to_json(),
               "lungs_matter": self.lungs_matter, "outside_used": self.outside_used,
               "min_effect": self.min_effect, "level": self.level, "flags": self.flags,
               "notes": self.notes, "endpoint": self.endpoint}
        if self.per_finding:
            out["per_finding"] = self.per_finding
            out["per_finding_reasons"] = self.per_finding_reasons
        return out


def _balanced_accuracy(y: np.ndarray, correct: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted balanced accuracy per weight row (classes absent from a row are skipped)."""
    recalls = []
    for c in np.unique(y):
        support = (w * (y == c)).sum(-1)
        hits = (w * ((y == c) & correct)).sum(-1)
        recalls.append(np.where(support > 0, hits / np.maximum(support, 1e-12), np.nan))
    return np.asarray(np.nanmean(np.stack(recalls), axis=0))


def _multilabel(p: _Preds) -> bool:
    return np.asarray(p.y).ndim == 2


def _finding_auc(p: _Preds, j: int, w: np.ndarray) -> np.ndarray:
    """Finding ``j``'s AUC per weight row, over the images where it is known."""
    known = ~np.isnan(p.y[:, j])
    return weighted_auc(np.asarray(p.prob)[known, j], p.y[known, j] > 0, w[:, known])


def _endpoints(p: _Preds, w: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of the endpoint (``main``), of each finding's AUC (``auc:<j>``, multi-label) and of
    the mean probability of the true answer (``prob``) per weight row."""
    if not _multilabel(p):
        y = np.asarray(p.y)
        true_p = np.asarray(p.prob[np.arange(len(y)), y], dtype=np.float64)
        return {"main": _balanced_accuracy(y, p.pred == y, w),
                "prob": (w * true_p).sum(-1) / w.sum(-1)}
    y, prob = np.asarray(p.y, dtype=np.float64), np.asarray(p.prob, dtype=np.float64)
    out = {f"auc:{j}": _finding_auc(p, j, w) for j in range(y.shape[1])}
    stacked = np.vstack(list(out.values()))
    finite = np.isfinite(stacked)
    out["main"] = np.where(finite, stacked, 0.0).sum(0) / np.maximum(finite.sum(0), 1)
    known = ~np.isnan(y)
    right = np.where(known, np.where(y > 0, prob, 1 - prob), 0.0).sum(1) / np.maximum(
        known.sum(1), 1)
    out["prob"] = (w * right).sum(-1) / w.sum(-1)
    return out


def _estimate(point: float, boots: np.ndarray, level: float) -> Estimate:
    b = boots[np.isfinite(boots)]
    if b.size < 10 or not np.isfinite(point):
        return Estimate(float(point) if np.isfinite(point) else None, (None, None))
    tail = (1 - level) / 2 * 100
    return Estimate(float(point), (float(np.percentile(b, tail)),
                                   float(np.percentile(b, 100 - tail))))


def _weights(groups: Sequence[str], n_boot: int, seed: int) -> np.ndarray:
    return np.vstack([np.ones(len(groups)), patient_weights(groups, n_boot, seed)])


def audit_effects(base: _Preds, hidden: _Preds, control: _Preds, groups: Sequence[str],
                  n_boot: int = 1000, seed: int = 0, n_decisions: int = 1,
                  area_ratio: float | None = None, disturbance_ratio: float | None = None,
                  findings: Sequence[str] = ()) -> AuditEffects:
    """Paired drops of a hiding representation and of its matched control (see
    :class:`AuditEffects`), with patient-bootstrap intervals at 95% / ``n_decisions``.

    Args:
        findings: Multi-label: the finding names (their order in the predictions).
    """
    level = 1 - 0.05 / n_decisions
    w = _weights(groups, n_boot, seed)
    ends = {k: _endpoints(p, w) for k, p in (("data", base), ("hidden", hidden),
                                               ("control", control))}

    def est(v: np.ndarray) -> Estimate:
        return _estimate(v[0], v[1:], level)

    def drops(key: str) -> Drops:
        d, h, c = ends["data"][key], ends["hidden"][key], ends["control"][key]
        return Drops(est(d - h), est(d - c), est(c - h), est(h))

    main = drops("main")
    per = {name: drops(f"auc:{j}") for j, name in enumerate(findings)} \
        if _multilabel(base) else {}
    d, h, c = (ends[k]["prob"] for k in ("data", "hidden", "control"))
    return AuditEffects(main.drop, main.control_drop, main.net_drop, main.hidden,
                        prob_drop=est(d - h), prob_control_drop=est(d - c),
                        prob_net_drop=est(c - h), control_area_ratio=area_ratio,
                        control_disturbance_ratio=disturbance_ratio, per_finding=per)


def audit_decisions(n_hidden: int, surround: bool) -> int:
    """How many decisions an audit's intervals are corrected for (Bonferroni): two per version
    hiding the lungs (its net drop, its skill without them), one for the surround control."""
    return max(1, 2 * n_hidden + int(surround))


def _clear(e: Drops | AuditEffects, min_effect: float) -> bool:
    """A net drop whose lower bound is above 0 and whose value reaches ``min_effect``."""
    lo = e.net_drop.ci[0]
    return lo is not None and lo > 0 and (e.net_drop.value or 0.0) >= min_effect


def _above(e: Drops | AuditEffects, floor: float) -> bool:
    lo = e.hidden.ci[0]
    return lo is not None and lo > floor


def _decide(drops: Mapping[str, Drops | AuditEffects], checks: Mapping[str, HiddenCheck],
            mask_reps: set[str], chance: float, min_effect: float,
            lungs_alone: Mapping[str, Estimate] | None = None,
            surround_reps: frozenset[str] = frozenset()
            ) -> tuple[str, str, list[str], list[str], list[str]]:
    """The rule on one endpoint: verdict, reason, lungs_matter, outside_used, flags."""
    usable = {r for r in drops if checks.get(r, HiddenCheck()).usable}
    near = [r for r in drops if r in surround_reps and r in usable
            and _clear(drops[r], min_effect)]
    drops = {r: d for r, d in drops.items() if r not in surround_reps}
    lungs = [r for r in drops if r in mask_reps and r in usable and _clear(drops[r], min_effect)]
    region = [r for r in drops if r not in mask_reps and r in usable
              and _clear(drops[r], min_effect)]
    outside = [r for r in drops if _above(drops[r], chance + min_effect)]
    flags = [f for f in AUDIT_FLAGS[1:3] if any(checks.get(r, HiddenCheck()).flag == f
                                                 for r in drops)]
    if lungs and lungs_alone and not any(e.ci[0] is not None and e.ci[0] > chance
                                         for e in lungs_alone.values()):
        # hiding the lungs hurts, but the lungs alone carry no skill: the model's evidence is
        # next to them, and changing them disturbs it (e.g. a marker read against the dark
        # lung behind it) - not evidence in the lungs
        flags.append("lung_context")
        region += [r for r in lungs if r not in region]
        lungs = []
    if region and not lungs:
        flags.insert(0, "region_around_lungs")
    if lungs and outside:
        return ("both", "hiding the lungs costs more than hiding an equal area elsewhere, and "
                "the model stays above chance without them", lungs, outside, flags)
    if lungs:
        return ("relies_on_lungs", "hiding the lungs costs more than hiding an equal area "
                "elsewhere, and the model falls to chance without them", lungs, outside, flags)
    if outside:
        why = ("the model stays above chance with the lungs hidden"
               + (", and hiding them costs no more than hiding an equal area elsewhere"
                  if any(r in mask_reps and r in usable for r in drops) else ""))
        if region:
            why += ("; hiding the lung boxes costs more than an equal area elsewhere: it "
                    "uses the region around the lungs")
        return "relies_outside", why, lungs, outside, flags
    if near:
        # the evidence is next to the lungs: hiding it with the lungs in view costs the model
        # more than an equal area elsewhere (a lung-reading model keeps its lungs there)
        if "region_around_lungs" not in flags:
            flags.insert(0, "region_around_lungs")
        return ("relies_outside", "hiding the part of the lung boxes outside the mask, the "
                "lungs kept, costs more than an equal area elsewhere, and lung reliance is not "
                "shown" + (" (the lungs alone carry no skill)" if "lung_context" in flags
                           else "") + ": its evidence is next to the lungs", lungs, near, flags)
    unreadable = [r for r in drops if r in mask_reps and r not in usable]
    if unreadable:
        why = "; ".join(checks[r].why for r in unreadable)
        return ("inconclusive", f"the effect of hiding the lungs cannot be read: {why}", lungs,
                outside, flags)
    return ("inconclusive", "neither a net drop nor above-chance skill without the lungs is "
            "clear at this test size", lungs, outside, flags)


def audit_verdict(base: _Preds, effects: Mapping[str, AuditEffects], groups: Sequence[str],
                  n_boot: int = 1000, seed: int = 0, min_effect: float = 0.10,
                  checks: Mapping[str, HiddenCheck] | None = None,
                  mask_reps: set[str] | None = None,
                  findings: Sequence[str] = (),
                  lungs_alone: Mapping[str, _Preds] | None = None,
                  surround_reps: frozenset[str] = frozenset()) -> AuditDecision:
    """The audit's verdict on one model (the rule of docs/AUDIT.md).

    Lung reliance is judged on the versions that hide exactly the lung mask (``mask_reps``,
    default ``lungs_removed``): ``lungs_matter`` when one's net drop has its lower bound above 0
    and its value at least ``min_effect``, and only where its check (``checks``: the fill not
    detectable, the control matched) allows reading it. A clear net drop of a version that
    hides more than the mask (the lung boxes) without one of the mask is the flag
    ``region_around_lungs``. ``outside_used``: with the lungs hidden the endpoint's lower bound
    still exceeds chance by ``min_effect``. Both -> ``both``; one of them -> ``relies_on_lungs`` /
    ``relies_outside``; neither, no hiding representation, or a model that does not clear
    chance on ``data`` -> ``inconclusive``.

    Where a version keeping only the lungs was audited (``lungs_alone``: ``lungs_isolated``),
    lung reliance also needs the model's skill on it to be above chance (its lower bound): a
    model whose skill falls to chance on the lungs alone although hiding them hurts reads evidence
    next to the lungs that changing them disturbs (flag ``lung_context``; the drop counts as
    reliance on the region around the lungs). A model without lung reliance and without skill
    outside the lungs is ``relies_outside`` (flag ``region_around_lungs``) when a version in
    ``surround_reps`` (``lungs_surround_removed``: the part of the lung boxes outside the mask
    hidden, the lungs kept) has a clear net drop: its evidence is next to the lungs. Those
    versions count for nothing else (the model sees its lungs in them).

    Each finding of a multi-label model gets its own verdict by the same rule on its AUC
    (chance 0.5), with the reason; one whose AUC cannot be estimated (no positive or no negative
    test image where it is known), with no hiding representation, or without skill above chance
    on ``data`` is ``inconclusive`` - whatever the macro verdict.

    Args:
        findings: Multi-label: the finding names; each also gets a verdict on its AUC.
        lungs_alone: Predictions on versions that keep exactly the lung mask.
        surround_reps: The versions of ``effects`` that hide what is next to the lungs only.
    """
    checks = dict(checks or {})
    mask_reps = {"lungs_removed"} if mask_reps is None else mask_reps
    n_dec = audit_decisions(len(effects) - len(surround_reps), bool(surround_reps))
    level = 1 - 0.05 / n_dec
    multilabel = _multilabel(base)
    chance = 0.5 if multilabel else 1.0 / max(1, len(np.unique(base.y)))
    w = _weights(groups, n_boot, seed)
    ends = _endpoints(base, w)
    data_end = _estimate(ends["main"][0], ends["main"][1:], level)
    endpoint = "macro_auc" if multilabel else "balanced_accuracy"

    alone = {r: _endpoints(p, w) for r, p in (lungs_alone or {}).items()}

    def alone_on(key: str) -> dict[str, Estimate]:
        return {r: _estimate(e[key][0], e[key][1:], level) for r, e in alone.items()}

    per: dict[str, tuple[str, str]] = {}
    for j, name in enumerate(findings if multilabel else ()):
        f_end = _estimate(ends[f"auc:{j}"][0], ends[f"auc:{j}"][1:], level)
        unjudged = _finding_unjudged(base, j, f_end, 0.5 + min_effect, bool(effects))
        if unjudged:
            per[name] = ("inconclusive", unjudged)
            continue
        verdict, why = _decide({r: e.per_finding[name] for r, e in effects.items()
                                if name in e.per_finding}, checks, mask_reps, 0.5, min_effect,
                               alone_on(f"auc:{j}"), surround_reps)[:2]
        per[name] = (verdict, why)

    def decision(verdict: str, reason: str, lungs: list[str] | None = None,
                 outside: list[str] | None = None, flags: list[str] | None = None
                 ) -> AuditDecision:
        notes = [c.why for r, c in checks.items() if r in effects and not c.usable]
        return AuditDecision(verdict, reason, chance, data_end, lungs or [], outside or [],
                             min_effect, level, flags or [], notes, endpoint,
                             {f: v for f, (v, _) in per.items()},
                             {f: why for f, (_, why) in per.items()})

    if not effects:
        return decision("inconclusive", "no audited representation hides the lungs")
    lo = data_end.ci[0]
    if lo is None or lo <= chance + min_effect:
        return decision("inconclusive", "the model does not clear chance on the original "
                        "images")
    return decision(*_decide(effects, checks, mask_reps, chance, min_effect,
                             alone_on("main"), surround_reps))


def _finding_unjudged(base: _Preds, j: int, auc: Estimate, floor: float,
                      hidden: bool) -> str | None:
    """Why finding ``j`` cannot be judged (None: it can): its AUC cannot be estimated on these
    images, no representation hides the lungs, or its AUC does not clear ``floor``."""
    y = np.asarray(base.y, dtype=np.float64)[:, j]
    known = ~np.isnan(y)
    n, pos = int(known.sum()), int((y[known] > 0).sum())
    if auc.value is None:
        if n == 0:
            return "unknown on every test image: its AUC cannot be estimated"
        which = "positive" if pos == 0 else "negative"
        return (f"no {which} image among the {n} test images where it is known: its AUC "
                "cannot be estimated")
    if not hidden:
        return "no audited representation hides the lungs"
    lo = auc.ci[0]
    if lo is None:
        return (f"too few test images for an interval on its AUC ({auc.value:.2f}; {pos} "
                f"positive of {n})")
    if lo <= floor:
        return (f"the model does not clear chance on the original images for this finding "
                f"(AUC {auc.value:.2f}, lower bound {lo:.2f} <= {floor:.2f})")
    return None
