"""Throughput of making the five representations of the shared classification pack.

1. On disk: ``segment predict`` with the default model, then ``represent`` (five PNG datasets).
2. On the fly, per training epoch at 224 px: our cached path (image and mask preprocessed once,
   representation applied to the small arrays) vs the baseline of reading the on-disk version's
   PNG files every epoch (no cache).

Run: ``.venv/bin/python bench/represent.py [--limit N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.data import ClassificationDataset, Preprocess, load_dataset
from hideseek.representations import (
    REPRESENTATIONS,
    Representation,
    RepresentOptions,
    write_representations,
)
from hideseek.segmentation import load_segmenter, predict_dataset

SHARED = Path(__file__).parents[1].parent / "shared" / "data" / "classification"


def _epoch(ds: ClassificationDataset) -> float:
    t0 = time.perf_counter()
    for i in range(len(ds)):
        ds.array(i)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    data = load_dataset(args.data)
    if args.limit:
        data = data.with_records(data.records[: args.limit])
    n = len(data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model, size, _ = load_segmenter()
        t0 = time.perf_counter()
        predict_dataset(data, tmp_path / "seg", model, size)
        seg = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_representations(data, tmp_path / "seg" / "masks", tmp_path / "rep",
                              RepresentOptions(workers=2))
        rep = time.perf_counter() - t0
        rows.append(["segment predict (default model)", n, seg, n / seg, ""])
        rows.append(["represent: write 5 versions", n, rep, n / rep, ""])
        rows.append(["on disk total (segment + represent)", n, seg + rep, n / (seg + rep), ""])
        pre = Preprocess(size=224)
        for name in REPRESENTATIONS[1:]:
            disk = load_dataset(tmp_path / "rep" / name)
            base = _epoch(ClassificationDataset(disk, pre, cache_dir=None))
            fly = ClassificationDataset(data.with_records(
                [r for r in data.records if r.filename in {d.extra["original_filename"]
                                                           for d in disk.records}]),
                pre, cache_dir=tmp_path / "cache", pair_transform=Representation(name),
                masks_dir=tmp_path / "seg" / "masks")
            _epoch(fly)  # first epoch fills the cache
            ours = min(_epoch(fly) for _ in range(2))
            rows.append([f"epoch {name}: read on-disk PNGs (baseline)", len(disk), base,
                         len(disk) / base, "1.0"])
            rows.append([f"epoch {name}: on the fly, cached (ours)", len(fly), ours,
                         len(fly) / ours, f"{base / ours:.1f}"])
    print_table(["step", "images", "seconds", "images/s", "vs baseline"], rows,
                f"Representations of {args.data}")


if __name__ == "__main__":
    main()
