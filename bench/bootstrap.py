"""The patient bootstrap of ``evaluate`` / ``paired_comparison``: old loop, weight form, SciPy.

For n = 100, 1,000 and 10,000 test images (3 classes, 1-3 images per patient, ~2 on average,
softmax probabilities favouring a prediction that is right ~85% of the time) and 1,000
replicates, times

- ``old loop``: the index-list bootstrap hideseek used before (copied below as the baseline:
  one concatenated index array per replicate, every metric recomputed on the copied images);
- ``new``: :func:`hideseek.classification.stats.classification_metrics` /
  :func:`~hideseek.classification.stats.paired_comparison` (one draw of patient counts, every
  replicate's metrics as matrix products);
- ``scipy``: ``scipy.stats.bootstrap`` on the same images, *unclustered* (images, not
  patients, resampled; ``vectorized=True``, percentile method) of a comparable statistic:
  accuracy, balanced accuracy, the three one-vs-rest AUCs, the paired accuracy difference.

The ``new`` column computes every metric of ``evaluate`` (accuracy, balanced accuracy and per
class sensitivity / PPV / specificity / F1, plus the AUCs in the AUC row) while SciPy computes
the one statistic named in its row, so ``new / scipy`` below 1 means the whole clustered
bootstrap is faster than SciPy's unclustered one of a single statistic. Times are the fastest
of several runs, ``new`` and SciPy timed in turns (the old loop: 3 runs, 1 at 10,000 images).

Run: ``.venv/bin/python bench/bootstrap.py [--sizes 100 1000 10000] [--n-boot 1000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.classification.stats import classification_metrics, paired_comparison, roc_auc

LABELS = ["normal", "pneumonia", "COVID-19"]


# --- The baseline: the index-list loop of hideseek <= 20b595d (classification/stats.py) -------


def _point(y: np.ndarray, pred: np.ndarray, prob: np.ndarray | None, k: int) -> dict[Any, Any]:
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    out: dict[Any, Any] = {"cm": cm, "accuracy": np.trace(cm) / max(1, cm.sum())}
    support = cm.sum(1)
    recalls = np.diag(cm)[support > 0] / support[support > 0]
    out["balanced_accuracy"] = float(recalls.mean()) if recalls.size else np.nan
    for c in range(k):
        tp = cm[c, c]
        fn = cm[c].sum() - tp
        fp = cm[:, c].sum() - tp
        tn = cm.sum() - tp - fn - fp
        sens = tp / (tp + fn) if tp + fn else np.nan
        ppv = tp / (tp + fp) if tp + fp else np.nan
        out[c] = {"sensitivity": sens, "ppv": ppv,
                  "specificity": tn / (tn + fp) if tn + fp else np.nan,
                  "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan,
                  "auc": roc_auc(prob[:, c], y == c) if prob is not None else np.nan,
                  "counts": (int(tp), int(fn), int(fp), int(tn))}
    return out


def _old_groups(groups: Sequence[str] | None, n: int) -> list[np.ndarray]:
    if groups is None:
        return [np.array([i]) for i in range(n)]
    index: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        index.setdefault(g, []).append(i)
    return [np.array(v) for v in index.values()]


def _old_bootstrap_indices(units: list[np.ndarray], n_boot: int,
                           seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(units), size=(n_boot, len(units)))
    return [np.concatenate([units[j] for j in row]) for row in picks]


def _old_ci(values: list[float]) -> tuple[float, float]:
    arr = np.array([v for v in values if np.isfinite(v)], dtype=float)
    if arr.size < 10:
        return float("nan"), float("nan")
    return float(np.percentile(arr, 2.5)), float(np.percentile(arr, 97.5))


def old_classification_metrics(y: np.ndarray, p: np.ndarray, k: int, prob: np.ndarray | None,
                               groups: Sequence[str] | None, n_boot: int = 1000,
                               seed: int = 0) -> dict[str, Any]:
    """The old bootstrap of ``classification_metrics``: every replicate's metrics and CIs."""
    point = _point(y, p, prob, k)
    boots = [_point(y[idx], p[idx], None if prob is None else prob[idx], k)
             for idx in _old_bootstrap_indices(_old_groups(groups, len(y)), n_boot, seed)]
    present = point["cm"].sum(1) > 0
    out: dict[str, Any] = {
        "lacking": sum(bool((b["cm"].sum(1)[present] == 0).any()) for b in boots),
        "accuracy": _old_ci([b["accuracy"] for b in boots]),
        "balanced_accuracy": _old_ci([b["balanced_accuracy"] for b in boots])}
    for c in range(k):
        for metric in ("sensitivity", "ppv", "specificity", "f1", "auc"):
            out[(c, metric)] = _old_ci([b[c][metric] for b in boots])
        out[(c, "without")] = sum(int(b["cm"][c].sum() == 0) for b in boots)
    return out


def old_paired_difference(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray,
                          groups: Sequence[str] | None, n_boot: int = 1000,
                          seed: int = 0) -> tuple[float, float]:
    """The old bootstrap interval of ``paired_comparison``'s accuracy difference."""
    a, b = pred_a == y, pred_b == y
    return _old_ci([float(b[idx].mean() - a[idx].mean())
                    for idx in _old_bootstrap_indices(_old_groups(groups, len(y)), n_boot,
                                                      seed)])


# --- SciPy's unclustered bootstrap of one statistic --------------------------------------------


def _accuracy(correct: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(correct.mean(axis=axis))


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray, axis: int = -1) -> np.ndarray:
    hit = y == pred
    recalls = [(hit & (y == c)).sum(axis) / (y == c).sum(axis) for c in range(len(LABELS))]
    return np.asarray(np.nanmean(np.stack(recalls), axis=0))


def _aucs(y: np.ndarray, *scores: np.ndarray, axis: int = -1) -> np.ndarray:
    out = []
    for c, s in enumerate(scores):
        pos = y == c
        n_pos, n_neg = pos.sum(axis), (~pos).sum(axis)
        rank_sum = (sps.rankdata(s, axis=axis) * pos).sum(axis)
        out.append((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return np.stack(out)


def _difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(b.mean(axis=axis) - a.mean(axis=axis))


def scipy_bootstrap(data: tuple[np.ndarray, ...], statistic: Callable[..., np.ndarray],
                    n_boot: int, seed: int = 0) -> Any:
    """``scipy.stats.bootstrap`` of images (vectorised, paired samples, percentile)."""
    return sps.bootstrap(data, statistic, n_resamples=n_boot, vectorized=True,
                         paired=len(data) > 1, method="percentile", confidence_level=0.95,
                         random_state=np.random.default_rng(seed))


# --- The benchmark -------------------------------------------------------------------------------


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                              list[str]]:
    """``n`` images of ~n/2 patients: labels, two prediction sets, probabilities, patients."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, size=n)  # images per patient: 1-3
    patient = np.repeat(np.arange(n), sizes)[:n]
    y = rng.choice(3, size=patient.max() + 1, p=[0.45, 0.35, 0.20])[patient]
    pred = np.where(rng.random(n) < 0.85, y, rng.integers(0, 3, n))
    pred_b = np.where(rng.random(n) < 0.80, y, rng.integers(0, 3, n))
    logits = rng.normal(0.0, 1.0, (n, 3))
    logits[np.arange(n), pred] += 2.5
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, pred, pred_b, prob, [f"p{i}" for i in patient]


def best_times(fns: Sequence[Callable[[], object]], repeats: int,
               budget_s: float = 2.0) -> list[float]:
    """Fastest wall time of each function, in seconds, timed in turns (a burst of load on a
    shared machine then hits them alike): at least ``repeats`` turns, more while a turn is
    cheap, until ``budget_s`` is spent (at most 50 turns)."""
    best = [float("inf")] * len(fns)
    start, turns = time.perf_counter(), 0
    while turns < repeats or (turns < 50 and time.perf_counter() - start < budget_s):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
        turns += 1
    return best


def bench_size(n: int, b: int, repeats: int) -> list[list[object]]:
    """The table's rows for ``n`` images and ``b`` replicates."""
    y, pred, pred_b, prob, groups = make_data(n)
    right_a, right_b = (pred == y).astype(float), (pred_b == y).astype(float)
    old_repeats = 1 if n >= 10000 else 3
    tasks: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "metrics": (lambda: old_classification_metrics(y, pred, 3, None, groups, b),
                    lambda: classification_metrics(y, pred, LABELS, None, groups, b)),
        "metrics + AUCs": (lambda: old_classification_metrics(y, pred, 3, prob, groups, b),
                           lambda: classification_metrics(y, pred, LABELS, prob, groups, b)),
        "paired_comparison": (lambda: old_paired_difference(y, pred, pred_b, groups, b),
                              lambda: paired_comparison(y, pred, pred_b, groups, b))}
    versus: list[tuple[str, str, Callable[[], object]]] = [
        ("metrics", "accuracy", lambda: scipy_bootstrap((right_a,), _accuracy, b)),
        ("metrics", "balanced accuracy",
         lambda: scipy_bootstrap((y, pred), _balanced_accuracy, b)),
        ("metrics + AUCs", "3 AUCs", lambda: scipy_bootstrap((y, *prob.T), _aucs, b)),
        ("paired_comparison", "accuracy difference",
         lambda: scipy_bootstrap((right_a, right_b), _difference, b))]
    t_old = {task: best_times([old], old_repeats, budget_s=0.0)[0]
             for task, (old, _) in tasks.items()}
    rows: list[list[object]] = []
    for task, stat, sp in versus:
        t_new, t_sp = best_times([tasks[task][1], sp], repeats)
        rows.append([n, task, t_old[task], t_new, stat, t_sp, f"{t_old[task] / t_new:.0f}x",
                     f"{t_new / t_sp:.2f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    """Time the three bootstraps and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rows = [row for n in args.sizes for row in bench_size(n, args.n_boot, args.repeats)]
    print_table(["n images", "hideseek task", "old loop s", "new s", "scipy statistic",
                 "scipy s", "old / new", "new / scipy"], rows,
                f"Patient bootstrap, {args.n_boot} replicates (scipy: unclustered, "
                "one statistic)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
