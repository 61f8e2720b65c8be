"""The report's first figure: retained skill per class (forest plot) with the rule's margins."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hideseek.plotting import REPRESENTATION_TITLES, pyplot, save_figure

__all__ = ["FLAG_WORDS", "flag_words", "forest_plot"]

#: What each flag means, in plain words (shown under the verdict).
FLAG_WORDS = {
    "mask_shape_dependent": "Removing the lung mask and boxing the lungs out disagree: the "
                            "outline of the mask itself carries information.",
    "silhouette_predicts_class": "A model shown only the lung silhouette predicts the class: "
                                 "lung shape or segmentation quality carries the label, so the "
                                 "removed / isolated comparisons are confounded.",
    "class_specific_shortcut": "At least one class is recognised just as well without the "
                               "lungs (see its row): a shortcut for that class.",
    "undertrained": "A model stopped before it learned what its input allows (see the notes "
                    "below): the retained skill is biased, so the verdict does not name the "
                    "mechanism that bias favours.",
}
_LO, _HI = -0.5, 1.5
_COLOURS = {"lungs_removed": "#1f77b4", "lungs_boxed_out": "#ff7f0e"}


def flag_words(flags: list[str]) -> list[str]:
    """The flags as sentences (unknown flags are shown by name)."""
    return [FLAG_WORDS.get(f, f) for f in flags]


def _rows(v: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [("balanced accuracy (architecture)", v.get("retained", {}))]
    rows += [(f"{c} vs rest (AUC)", cv.get("retained", {}))
             for c, cv in v.get("per_class", {}).items()]
    return rows


def _clip(x: float | None, default: float) -> float:
    return default if x is None or not math.isfinite(x) else min(_HI, max(_LO, x))


def forest_plot(path: str | Path, v: dict[str, Any], title: str) -> Path:
    """Draw one architecture's retained skill per hidden version and class.

    Args:
        path: Output PNG.
        v: The architecture's ``verdicts.json`` entry.
        title: Figure title.
    """
    plt = pyplot()
    rows = _rows(v)
    margins = v.get("margins", {"uses_lungs_max": 0.25, "shortcut_min": 0.75})
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(rows) + 1.6))
    ax.axvspan(_LO, margins["uses_lungs_max"], color="#27ae60", alpha=0.12)
    ax.axvspan(margins["shortcut_min"], _HI, color="#c0392b", alpha=0.12)
    for x in (margins["uses_lungs_max"], margins["shortcut_min"]):
        ax.axvline(x, color="#555", ls="--", lw=1)
    ax.axvline(0, color="#999", lw=0.6)
    ax.axvline(1, color="#999", lw=0.6)
    reps = sorted({r for _, ret in rows for r in ret})
    labelled: set[str] = set()
    for i, (_, ret) in enumerate(rows):
        for j, rep in enumerate(reps):
            if rep not in ret or ret[rep]["value"] is None:
                continue
            y = len(rows) - 1 - i + (j - (len(reps) - 1) / 2) * 0.25
            lo, hi = ret[rep]["ci"]
            x = _clip(ret[rep]["value"], 0.5)
            ax.plot([_clip(lo, _LO), _clip(hi, _HI)], [y, y], color=_COLOURS.get(rep, "k"))
            first = rep not in labelled
            labelled.add(rep)
            ax.plot(x, y, "o", color=_COLOURS.get(rep, "k"),
                    label=REPRESENTATION_TITLES.get(rep, rep) if first else None)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r for r, _ in rows][::-1])
    ax.set_xlim(_LO, _HI)
    ax.set_xlabel("retained skill R (0: all skill lost without the lungs, 1: none lost)")
    ax.set_title(f"{title}: {v.get('verdict', '?')}", fontsize=10)
    if labelled:
        ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)
