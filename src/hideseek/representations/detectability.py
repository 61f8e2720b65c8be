"""How detectable is a fill? A small probe that tells filled patches from real tissue.

ROAD-style imputation (Rong et al., ICML 2022) was proposed because zero or mean fills leave a
region a model can recognise; the objection to imputation is the same in weaker form: smooth
interpolated regions lack the texture of real tissue, so a model may still tell them apart, and
then its reaction to the fill (not the loss of the hidden content) can move its outputs.

The probe measures this on the audit's own images: patches drawn inside the hidden region of
the filled image, against patches of real tissue from the visible part of the same image, each
matched to a filled patch in mean intensity (the patches at the filled places themselves would
not do: hiding the lungs is meant to remove their darkness, and every fill differs from them in
mean; the question is whether the fill looks like tissue of its brightness). Patches are
described by location-free texture and intensity features (mean, standard deviation, gradient
and Laplacian energy, high-pass energy at two scales, spread) and separated by a
ridge-regularised logistic regression fitted on half the patients and scored on the other half
(and the other way round). Its AUC is 0.5 for a fill that cannot be told from tissue and 1.0 for
one that always can; the interval resamples patients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from hideseek.bootstrap import patient_counts
from hideseek.representations.transforms import apply_representation, visible_region

__all__ = ["DETECTABLE_AUC", "Detectability", "fill_detectability", "patch_features"]

#: A fill whose probe AUC reaches this (lower bound of its interval) is detectable: an effect
#: of hiding a region with it is not read as reliance on that region.
DETECTABLE_AUC = 0.95


@dataclass(frozen=True)
class Detectability:
    """The probe's result for one representation and fill.

    Attributes:
        auc: Out-of-fold AUC of filled vs real patches (0.5: indistinguishable).
        ci: Its 95% interval (patients resampled).
        images: Images the patches came from.
        patches: Patch pairs (filled, real of matched brightness).
        patch: Patch side in pixels.
        detectable: The interval's lower bound reaches :data:`DETECTABLE_AUC`.
    """

    auc: float | None
    ci: tuple[float | None, float | None]
    images: int
    patches: int
    patch: int
    detectable: bool


def patch_features(patches: np.ndarray) -> np.ndarray:
    """Location-free features of N x p x p patches: mean, sd, mean |gradient|, mean
    |Laplacian|, sd of the high-pass residual at sigma 0.7 and 1.5, and the spread
    (p95 - p5)."""
    p = patches.astype(np.float64)
    flat = p.reshape(len(p), -1)
    gy, gx = np.gradient(p, axis=(1, 2))
    lap = np.stack([ndimage.laplace(q, mode="nearest") for q in p]) if len(p) else p
    feats = [flat.mean(1), flat.std(1), np.hypot(gx, gy).reshape(len(p), -1).mean(1),
             np.abs(lap).reshape(len(p), -1).mean(1)]
    for sigma in (0.7, 1.5):
        smooth = ndimage.gaussian_filter(p, sigma=(0, sigma, sigma), mode="nearest")
        feats.append((p - smooth).reshape(len(p), -1).std(1))
    q5, q95 = np.percentile(flat, [5, 95], axis=1)
    feats.append(q95 - q5)
    return np.stack(feats, axis=1)


def _fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1e-2,
                  steps: int = 50) -> np.ndarray:
    """Ridge-regularised logistic regression by Newton's method (bias last)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = ridge * np.eye(xb.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(steps):
        z = np.clip(xb @ w, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = xb.T @ (p - y) + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray | None = None) -> float:
    """(Weighted) Mann-Whitney AUC, ties one half."""
    w = np.ones(len(scores)) if weights is None else weights
    pos, neg = positive & (w > 0), ~positive & (w > 0)
    if not pos.any() or not neg.any():
        return float("nan")
    sp, sn, wp, wn = scores[pos], scores[neg], w[pos], w[neg]
    order = np.argsort(sn, kind="stable")
    sn, wn = sn[order], wn[order]
    cum = np.concatenate([[0.0], np.cumsum(wn)])
    lo, hi = np.searchsorted(sn, sp, "left"), np.searchsorted(sn, sp, "right")
    below = (cum[lo] + cum[hi]) / 2
    return float((wp * below).sum() / (wp.sum() * wn.sum()))


def _patch_side(shape: tuple[int, int]) -> int:
    return max(5, min(shape) // 12)


def _centres(region: np.ndarray, side: int, count: int, rng: np.random.Generator
             ) -> list[tuple[int, int]]:
    """Up to ``count`` top-left corners of ``side`` x ``side`` patches inside ``region``."""
    table = np.zeros((region.shape[0] + 1, region.shape[1] + 1))
    table[1:, 1:] = region.astype(np.float64).cumsum(0).cumsum(1)
    inside = (table[side:, side:] - table[:-side, side:] - table[side:, :-side]
              + table[:-side, :-side])  # pixels of the region in each window
    ys, xs = np.nonzero(inside >= side * side - 0.5)
    if ys.size == 0:
        return []
    pick = rng.choice(ys.size, size=min(count, ys.size), replace=False)
    return [(int(ys[i]), int(xs[i])) for i in pick]


def _matched(targets: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """For each target mean, the pool patch of the closest mean (each used once while the
    pool lasts)."""
    free = np.ones(len(pool), dtype=bool)
    out = []
    for t in targets:
        cost = np.where(free, np.abs(pool - t), np.inf)
        j = int(np.argmin(cost)) if free.any() else int(np.argmin(np.abs(pool - t)))
        free[j] = False
        out.append(j)
    return np.asarray(out, dtype=np.int64)


def fill_detectability(images: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                       patients: Sequence[str], representation: str, fill: str, *,
                       box_margin: int = 0, per_image: int = 6, n_boot: int = 500,
                       seed: int = 0) -> Detectability:
    """The probe's AUC for ``representation`` hidden with ``fill`` on these images.

    Args:
        images: The images as the model sees them (float, [0, 1]).
        masks: Their lung masks (same shapes).
        patients: Each image's patient (the folds and the bootstrap keep patients whole).
        representation: A registered representation that hides something.
        fill: A registered fill.
        box_margin: Pixels around each lung box.
        per_image: Patch pairs per image.
        n_boot: Bootstrap replicates of the interval.
        seed: Seed of the patch places, the folds and the bootstrap.
    """
    rng = np.random.default_rng(seed)
    feats, label, owner = [], [], []
    side = _patch_side(images[0].shape) if len(images) else 5
    for k, (image, mask) in enumerate(zip(images, masks, strict=True)):
        hidden = ~visible_region(representation, mask.astype(bool), box_margin)
        spots = _centres(hidden, side, per_image, rng)
        donors = _centres(~hidden, side, 40 * per_image, rng)
        if not spots or not donors:
            continue
        filled = apply_representation(representation, image, mask.astype(bool), fill,
                                      box_margin)
        fake = np.stack([filled[a:a + side, b:b + side] for a, b in spots])
        pool = np.stack([image[a:a + side, b:b + side] for a, b in donors])
        real = pool[_matched(fake.reshape(len(fake), -1).mean(1),
                             pool.reshape(len(pool), -1).mean(1))]
        for patches, is_fill in ((fake, 1), (real, 0)):
            feats.append(patch_features(patches))
            label += [is_fill] * len(patches)
            owner += [k] * len(patches)
    if not feats:
        return Detectability(None, (None, None), 0, 0, side, False)
    x, y, img = np.vstack(feats), np.asarray(label, dtype=bool), np.asarray(owner)
    pat = np.asarray([patients[i] for i in img])
    ids = np.unique(pat)
    fold_of = dict(zip(rng.permutation(ids), np.arange(len(ids)) % 2, strict=True))
    fold = np.asarray([fold_of[p] for p in pat])
    score = np.full(len(y), np.nan)
    for f in (0, 1):
        train, test = fold != f, fold == f
        if not test.any() or len(np.unique(y[train])) < 2:
            continue
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-9
        w = _fit_logistic((x[train] - mu) / sd, y[train].astype(float))
        score[test] = np.hstack([(x[test] - mu) / sd, np.ones((int(test.sum()), 1))]) @ w
    ok = np.isfinite(score)
    auc = _auc(score[ok], y[ok])
    counts, patient = patient_counts(pat[ok], n_boot, seed)
    boots = np.array([_auc(score[ok], y[ok], c[patient]) for c in counts])
    boots = boots[np.isfinite(boots)]
    ci = (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))) \
        if boots.size >= 10 else (None, None)
    detectable = ci[0] is not None and ci[0] >= DETECTABLE_AUC
    return Detectability(None if not np.isfinite(auc) else auc, ci, len(set(img.tolist())),
                         int(ok.sum() // 2), side, detectable)
