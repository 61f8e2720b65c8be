"""Plain-language verdicts per architecture, each with the rule that produced it.

The rule itself lives in :mod:`hideseek.protocol.rule` (prediction sets in, typed verdict out).
:func:`verdict` is kept for callers that only have summaries (two evaluations and their paired
comparison): it applies the same margins to the retained skill, with the interval taken from the
paired difference's patient-bootstrap interval. It cannot see classes or seeds; prefer
:func:`~hideseek.protocol.rule.decide`.
"""

from __future__ import annotations

from typing import Any

from hideseek.formatting import format_value_ci
from hideseek.protocol.rule import Interval, VerdictMargins, rule_text

__all__ = ["RULE", "verdict"]

RULE = rule_text()


def _fmt(m: dict[str, Any]) -> str:
    return format_value_ci(m, digits=2)


def _retained(acc_d: float, diff: dict[str, Any], chance: float) -> Interval:
    skill = acc_d - chance
    lo, hi = diff.get("ci") or [None, None]
    if lo is None or hi is None:
        return Interval(1 + diff["value"] / skill, float("-inf"), float("inf"))
    return Interval(1 + diff["value"] / skill, 1 + lo / skill, 1 + hi / skill)


def verdict(data_eval: dict[str, Any], removed_eval: dict[str, Any],
            comparison: dict[str, Any], margins: VerdictMargins | None = None) -> dict[str, Any]:
    """The verdict for one architecture from summaries (a screen; see the module docstring).

    Args:
        data_eval: Test metrics of the model trained on ``data``.
        removed_eval: Test metrics of the model trained on ``lungs_removed``.
        comparison: :func:`~hideseek.classification.stats.paired_comparison` of the two
            (a = data, b = lungs removed).
        margins: The rule's margins.

    Returns:
        ``{"verdict", "rule", "sentence", "figures"}``.
    """
    m = margins or VerdictMargins()
    cm = data_eval["confusion_matrix"]
    n = sum(sum(r) for r in cm)
    chance = 1.0 / len(cm) if cm else 1.0
    acc_d, acc_r = data_eval["accuracy"], removed_eval["accuracy"]
    p = comparison["mcnemar_p"]
    diff = comparison["accuracy_difference"]
    learned = acc_d["ci"][0] > chance + m.learned_margin
    r = (_retained(acc_d["value"], diff, chance) if acc_d["value"] > chance
         else Interval(float("nan"), float("-inf"), float("inf")))
    figures = {"accuracy_data": acc_d, "accuracy_lungs_removed": acc_r, "chance": chance,
               "retained": r.to_json(), "mcnemar_p": p, "accuracy_difference": diff,
               "n_test": n}
    if not learned:
        v = "not_learned"
        sentence = (f"not_learned: the model on the originals does not clear chance by "
                    f"{m.learned_margin:g} ({_fmt(acc_d)} vs chance {chance:.2f})")
    else:
        if r.hi <= m.uses_lungs_max:
            v = "uses_lungs"
        elif r.lo >= m.shortcut_min:
            v = "shortcut"
        elif r.lo > m.uses_lungs_max and r.hi < m.shortcut_min:
            v = "both"
        else:
            v = "inconclusive"
        sentence = (f"{v}: accuracy {_fmt(acc_r)} with the lungs removed vs {_fmt(acc_d)} on "
                    f"originals (McNemar p = {p:.2g}); retained skill {r}")
    return {"verdict": v, "rule": RULE, "sentence": sentence, "figures": figures}
