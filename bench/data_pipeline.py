"""Reading + preprocessing throughput of the shared classification pack at 224 px.

Baseline: decode every file each time (what an epoch costs without the cache).
Ours: the preprocessing cache (first pass fills it, later passes read it).

Run: ``.venv/bin/python bench/data_pipeline.py [--data ../shared/data/classification]``
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


def _epoch(ds: ClassificationDataset) -> float:
    t0 = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(Path(__file__).parents[1].parent / "shared" / "data"
                                          / "classification"))
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    data = load_dataset(args.data)
    pre = Preprocess(size=args.size)
    n = len(data)
    cold = _epoch(ClassificationDataset(data, pre, cache_dir=None))
    with tempfile.TemporaryDirectory() as tmp:
        fill = _epoch(ClassificationDataset(data, pre, cache_dir=tmp))
        warm_ds = ClassificationDataset(data, pre, cache_dir=tmp)
        warm = min(_epoch(warm_ds) for _ in range(3))
    rows = [
        ["decode every epoch (baseline)", n, cold, n / cold, 1.0],
        ["cache, first epoch (fills it)", n, fill, n / fill, cold / fill],
        ["cache, later epochs", n, warm, n / warm, cold / warm],
    ]
    print_table(["pipeline", "images", "seconds", "images/s", "vs baseline"], rows,
                f"Reading + preprocessing {args.data} at {args.size} px (1 process)")


if __name__ == "__main__":
    main()
