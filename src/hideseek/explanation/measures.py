"""Where the evidence is: attribution and occlusion numbers per image, and their summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hideseek.classification.stats import wilson

__all__ = ["attribution_numbers", "outside_region", "summarise"]

MEASURES = ("lung_share", "lung_ratio", "box_share", "pointing", "occlusion")


def attribution_numbers(cam: np.ndarray, mask: np.ndarray, boxes: np.ndarray) -> dict[str, float]:
    """Numbers of one (raw, non-negative) attribution map.

    Returns:
        ``lung_share``: share of positive attribution inside the lung mask; ``lung_ratio``: that
        share over the mask's share of the image area (1.0 = no preference for the lungs);
        ``box_share``: share inside the lung boxes; ``pointing``: 1 when the maximum is inside
        the mask. NaN where the map is all zero.
    """
    pos = np.clip(cam.astype(np.float64), 0.0, None)
    total = float(pos.sum())
    area = float(mask.mean())
    if total <= 0 or area == 0:
        return {"lung_share": np.nan, "lung_ratio": np.nan, "box_share": np.nan,
                "pointing": np.nan}
    share = float(pos[mask].sum() / total)
    return {"lung_share": share, "lung_ratio": share / area,
            "box_share": float(pos[boxes].sum() / total),
            "pointing": float(mask.flat[int(np.argmax(pos))])}


def outside_region(mask: np.ndarray, rng: np.random.Generator, block: int = 8) -> np.ndarray:
    """A region outside the lungs with (about) the lungs' area, made of random ``block`` x
    ``block`` squares, for the occlusion control."""
    h, w = mask.shape
    target = int(mask.sum())
    out = np.zeros_like(mask, dtype=bool)
    cells = [(y, x) for y in range(0, h, block) for x in range(0, w, block)
             if not mask[y : y + block, x : x + block].any()]
    for k in rng.permutation(len(cells)):
        if out.sum() >= target:
            break
        y, x = cells[k]
        out[y : y + block, x : x + block] = True
    return out


def _mean_ci(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"value": None, "ci": [None, None], "n": 0}
    if v.size < 3:
        return {"value": float(v.mean()), "ci": [None, None], "n": int(v.size)}
    boots = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    return {"value": float(v.mean()), "ci": [float(np.percentile(boots, 2.5)),
                                             float(np.percentile(boots, 97.5))], "n": int(v.size)}


def summarise(rows: Sequence[dict[str, Any]], classes: Sequence[str], n_boot: int = 1000,
              seed: int = 0) -> dict[str, Any]:
    """Per true class (and ``all``): mean of each measure with a 95% interval (bootstrap over
    images; Wilson for the pointing-game proportion)."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for cls in [*classes, "all"]:
        sel = [r for r in rows if cls == "all" or r["label"] == cls]
        entry: dict[str, Any] = {"n": len(sel)}
        for m in MEASURES:
            vals = np.array([r[m] for r in sel], dtype=float)
            if m == "pointing":
                v = vals[np.isfinite(vals)]
                hits = int(v.sum())
                entry[m] = {"value": float(v.mean()) if v.size else None,
                            "ci": list(wilson(hits, int(v.size))), "n": int(v.size)}
            else:
                entry[m] = _mean_ci(vals, rng, n_boot)
        out[cls] = entry
    return out
