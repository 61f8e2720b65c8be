"""Cost per stage at COVIDx scale: time and peak memory at 1k, 5k and 30k records.

Builds a COVIDx-shaped synthetic tree per size (``train/``, ``test/``, ``train.txt``,
``test.txt``, four sources, three images per patient, lung masks under ``masks/``) from a few
phantom templates plus noise (fast: no phantom is drawn per image), then runs each stage in a
fresh process and reports its wall time, its peak RSS and the cost per 1k images. Linear cost
shows as a per-1k cost that does not grow with N (the ``vs`` column against the smallest N, the
baseline: 1.0 linear, below 1 fixed costs amortised, above 1 super-linear); flat memory as equal
``MiB`` columns. The segmentation stage runs a small random U-Net at 64 px: it measures the
pipeline's scaling (decoding, batching, post-processing, writing), not the shipped model's
speed (``bench/segment.py``).

Run: ``nice -n 10 .venv/bin/python bench/scale.py --sizes 1000 5000 [30000]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table

SOURCES = ("rsna", "cohen", "actualmed", "sirm")


def build_tree(out: Path, n: int, size: int = 32, seed: int = 0) -> None:
    """Write a COVIDx-shaped tree of ``n`` noisy copies of 12 phantom templates (+ masks)."""
    from hideseek.data.io import write_png
    from hideseek.data.labels import LABELS
    from hideseek.data.phantom import SITES, make_phantom

    rng = np.random.default_rng(seed)
    templates = {(lab, src): make_phantom(lab, "lungs", SITES[LABELS.index(lab)], size, rng)
                 for lab in LABELS for src in SOURCES}
    lines: dict[str, list[str]] = {"train": [], "test": []}
    for i in range(n):
        patient = i // 3
        label, source = LABELS[patient % 3], SOURCES[(patient // 3) % 4]
        split = "test" if patient % 5 == 4 else "train"
        image, mask = templates[(label, source)]
        noisy = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1).astype(np.float32)
        name = f"{source}-{patient:06d}-{i % 3}.png"
        write_png(out / split / name, noisy)
        write_png(out / "masks" / split / name, (mask > 0).astype(np.float32))
        lines[split].append(f"{source}{patient:06d} {name} {label} {source}")
    for split, rows in lines.items():
        (out / f"{split}.txt").write_text("\n".join(rows) + "\n")


def _data(root: Path):  # type: ignore[no-untyped-def]
    from hideseek.data.manifest import load_dataset

    return load_dataset([root / "train.txt", root / "test.txt"], images=root)


def _check(root: Path, work: Path) -> None:
    from hideseek.data.check import check_dataset

    check_dataset(_data(root))


def _hash(root: Path, work: Path) -> None:
    from hideseek.data.hashing import content_hash

    data = _data(root)
    content_hash((data.image_path(r) for r in data.records), cache=work / "hashes.sqlite")


def _cache(root: Path, work: Path) -> None:
    from hideseek.data.cache import PreprocessCache
    from hideseek.data.preprocess import Preprocess

    data = _data(root)
    cache = PreprocessCache(Preprocess(size=32), work / "cache")
    for r in data.records:
        cache.image(data.image_path(r))


def _segment(root: Path, work: Path) -> None:
    from hideseek.segmentation.predict import predict_dataset
    from hideseek.segmentation.unet import UNet, UNetConfig

    model = UNet(UNetConfig(depth=3, base=4)).eval()
    predict_dataset(_data(root), work / "seg", model, 64, batch_size=64, workers=0)


def _train(root: Path, work: Path) -> None:
    from hideseek.classification.config import TrainConfig
    from hideseek.classification.train import train_classifier

    cfg = TrainConfig(epochs=1, image_size=32, batch_size=64, pretrained=False, crop_top=0.0,
                      augment={"enabled": False}, workers=0)
    train_classifier(_data(root), work / "model", cfg, masks_dir=root / "masks",
                     cache_dir=work / "cache")


def _represent(root: Path, work: Path) -> None:
    from hideseek.representations import RepresentOptions, write_representations

    write_representations(_data(root), root / "masks", work / "rep",
                          RepresentOptions(workers=1, representations=("data", "lungs_removed")))


def _evaluate(root: Path, work: Path) -> None:
    from hideseek.classification.evaluate import evaluate

    evaluate(work / "model", _data(root), masks_dir=root / "masks", n_boot=200,
             cache_dir=work / "cache")


STAGES: dict[str, Callable[[Path, Path], None]] = {
    "data check": _check, "hash (cold)": _hash, "hash (warm)": _hash, "cache build": _cache,
    "segment predict": _segment, "train 1 epoch": _train, "represent": _represent,
    "evaluate": _evaluate}


def _child(name: str, root: Path, work: Path, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import hideseek.classification.evaluate
    import hideseek.classification.train
    import hideseek.data.check
    import hideseek.representations
    import hideseek.segmentation.predict  # noqa: F401  (imports are not the stage's cost)

    t0 = time.perf_counter()
    STAGES[name](root, work)
    queue.put((time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _measure(name: str, root: Path, work: Path) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, root, work, queue))
    proc.start()
    seconds, rss_kib = queue.get()
    proc.join()
    return seconds, rss_kib / 1024


def _pivot(results: dict[tuple[int, str], tuple[float, float]], sizes: list[int],
           stages: list[str]) -> tuple[list[str], list[list[object]]]:
    """One row per stage: s / 1k images and peak RSS at each N, and the largest N's per-1k cost
    against the smallest N's (the baseline: 1.0 is linear, below 1 fixed costs amortised)."""
    def k(n: int) -> str:
        return f"{n / 1000:g}k" if n >= 1000 else str(n)

    headers = ["stage", *(f"s / 1k @ {k(n)}" for n in sizes),
               f"{k(sizes[-1])} vs {k(sizes[0])} (per 1k)", *(f"MiB @ {k(n)}" for n in sizes)]
    rows: list[list[object]] = []
    for stage in stages:
        per_k = [1000 * results[(n, stage)][0] / n for n in sizes]
        rows.append([stage, *(f"{v:.2f}" for v in per_k), f"{per_k[-1] / per_k[0]:.2f}",
                     *(f"{results[(n, stage)][1]:.0f}" for n in sizes)])
    return headers, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 30000])
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    args = ap.parse_args()
    sizes = sorted(args.sizes)
    results: dict[tuple[int, str], tuple[float, float]] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root, work = Path(tmp) / "covidx", Path(tmp) / "work"
            t0 = time.perf_counter()
            build_tree(root, n)
            print(f"N={n}: tree built in {time.perf_counter() - t0:.1f} s", flush=True)
            for name in args.stages:
                results[(n, name)] = seconds, mib = _measure(name, root, work)
                print(f"  {name}: {seconds:.2f} s, peak {mib:.0f} MiB", flush=True)
    headers, rows = _pivot(results, sizes, args.stages)
    print_table(headers, rows, f"hideseek at COVIDx scale: cost per 1k images and peak memory "
                f"per stage, baseline N = {sizes[0]} (32 px images, {os.cpu_count()} CPU cores)")


if __name__ == "__main__":
    main()
