"""Segmentation metrics in the layout of the paper's Table 2."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PixelCounts", "SegmentationReport", "dice", "table2"]


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient of two boolean masks (1.0 when both are empty)."""
    pred, truth = pred.astype(bool), truth.astype(bool)
    denom = int(pred.sum()) + int(truth.sum())
    return 1.0 if denom == 0 else 2.0 * int((pred & truth).sum()) / denom


@dataclass
class PixelCounts:
    """Confusion counts of the lung class accumulated over all pixels of all images."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        """Accumulate one image (boolean lung masks of equal shape)."""
        pred, truth = pred.astype(bool), truth.astype(bool)
        if pred.shape != truth.shape:
            raise ValueError(f"mask shapes differ: {pred.shape} vs {truth.shape}")
        tp = int((pred & truth).sum())
        fp = int((pred & ~truth).sum())
        fn = int((~pred & truth).sum())
        self.tp += tp
        self.fp += fp
        self.fn += fn
        self.tn += pred.size - tp - fp - fn


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def table2(counts: PixelCounts) -> dict[str, dict[str, float]]:
    """Recall, precision, Jaccard, F1 and accuracy for class 0 (background) and 1 (lung)."""
    out = {}
    for name, tp, fp, fn in (("background", counts.tn, counts.fn, counts.fp),
                             ("lung", counts.tp, counts.fp, counts.fn)):
        total = counts.tp + counts.fp + counts.fn + counts.tn
        out[name] = {
            "recall": _ratio(tp, tp + fn),
            "precision": _ratio(tp, tp + fp),
            "jaccard": _ratio(tp, tp + fp + fn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "accuracy": _ratio(counts.tp + counts.tn, total),
        }
    return out


@dataclass
class SegmentationReport:
    """Table 2 over all pixels plus per-image lung Dice."""

    counts: PixelCounts = field(default_factory=PixelCounts)
    per_image: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, pred: np.ndarray, truth: np.ndarray) -> None:
        """Add one image's predicted and true lung masks."""
        self.counts.add(pred, truth)
        self.per_image[name] = dice(pred, truth)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        d = np.array(list(self.per_image.values()), dtype=float)
        worst = sorted(self.per_image.items(), key=lambda kv: kv[1])[:5]
        return {
            "n_images": len(self.per_image),
            "table2": table2(self.counts),
            "dice": {
                "mean": float(d.mean()) if d.size else float("nan"),
                "median": float(np.median(d)) if d.size else float("nan"),
                "p05": float(np.percentile(d, 5)) if d.size else float("nan"),
                "worst": [{"filename": n, "dice": v} for n, v in worst],
            },
            "per_image_dice": self.per_image,
        }

    def format(self) -> str:
        """The paper's Table 2 layout, then the Dice summary."""
        t = table2(self.counts)
        lines = [f"{'metric':<10} {'class 0 (background)':>21} {'class 1 (lung)':>15}"]
        for m in ("recall", "precision", "jaccard", "f1", "accuracy"):
            lines.append(f"{m:<10} {t['background'][m]:>21.3f} {t['lung'][m]:>15.3f}")
        s = self.to_dict()["dice"]
        assert isinstance(s, dict)
        lines.append(f"\nper-image lung Dice over {len(self.per_image)} images: mean "
                     f"{s['mean']:.3f}, median {s['median']:.3f}, 5th percentile {s['p05']:.3f}")
        lines.append("worst: " + ", ".join(f"{w['filename']} ({w['dice']:.3f})"
                                            for w in s["worst"]))
        return "\n".join(lines)
