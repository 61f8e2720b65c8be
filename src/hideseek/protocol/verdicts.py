"""Plain-language verdicts per architecture, each with the rule that produced it."""

from __future__ import annotations

from typing import Any

from hideseek.formatting import format_value_ci

__all__ = ["RULE", "verdict"]

RULE = (
    "Compare the model retrained and tested on 'lungs removed' with the one on the originals, "
    "on the same test images. chance = the largest class share of the test set; retained = "
    "(acc_removed - chance) / (acc_data - chance). 'shortcut' if the lungs-removed accuracy's "
    "95% interval lies above chance and either the drop is not significant (McNemar p >= 0.05) "
    "or retained >= 0.75. 'uses_lungs' if the drop is significant (p < 0.05) and retained < "
    "0.5. 'inconclusive' otherwise, or when the original model's interval does not clear "
    "chance (it learned too little to judge)."
)


def _fmt(m: dict[str, Any]) -> str:
    return format_value_ci(m, digits=2)


def verdict(data_eval: dict[str, Any], removed_eval: dict[str, Any],
            comparison: dict[str, Any]) -> dict[str, Any]:
    """The verdict for one architecture.

    Args:
        data_eval: Test metrics of the model trained on ``data``.
        removed_eval: Test metrics of the model trained on ``lungs_removed``.
        comparison: :func:`~hideseek.classification.stats.paired_comparison` of the two
            (a = data, b = lungs removed).

    Returns:
        ``{"verdict", "rule", "sentence", "figures"}``.
    """
    cm = data_eval["confusion_matrix"]
    n = sum(sum(r) for r in cm)
    chance = max(sum(r) for r in cm) / n if n else 1.0
    acc_d, acc_r = data_eval["accuracy"], removed_eval["accuracy"]
    p = comparison["mcnemar_p"]
    learned = acc_d["ci"][0] > chance
    retained = ((acc_r["value"] - chance) / (acc_d["value"] - chance)
                if acc_d["value"] > chance else float("nan"))
    above = acc_r["ci"][0] > chance
    diff = comparison["accuracy_difference"]
    sig = "significant" if p < 0.05 else "not significant"
    figures = {"accuracy_data": acc_d, "accuracy_lungs_removed": acc_r, "chance": chance,
               "retained": retained, "mcnemar_p": p, "accuracy_difference": diff,
               "n_test": n}
    if not learned:
        v = "inconclusive"
        sentence = (f"inconclusive: the model on the originals does not clear chance "
                    f"({_fmt(acc_d)} vs chance {chance:.2f})")
    elif above and (p >= 0.05 or retained >= 0.75):
        v = "shortcut"
        sentence = (f"uses information outside the lungs: accuracy with the lungs removed "
                    f"{_fmt(acc_r)} vs {_fmt(acc_d)} on originals, difference {sig} "
                    f"(p = {p:.2g}); {retained:.0%} of the above-chance accuracy retained")
    elif p < 0.05 and retained < 0.5:
        v = "uses_lungs"
        sentence = (f"relies on the lungs: accuracy falls from {_fmt(acc_d)} on originals to "
                    f"{_fmt(acc_r)} with the lungs removed (p = {p:.2g}; chance {chance:.2f})")
    else:
        v = "inconclusive"
        sentence = (f"inconclusive: accuracy {_fmt(acc_r)} with the lungs removed vs "
                    f"{_fmt(acc_d)} on originals, difference {sig} (p = {p:.2g}), "
                    f"{retained:.0%} of the above-chance accuracy retained")
    return {"verdict": v, "rule": RULE, "sentence": sentence, "figures": figures}
