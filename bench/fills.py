"""Time per image of each built-in fill of the hidden pixels, against the ``zero`` fill.

Each fill hides the lung mask of real radiographs (the V7 pack's images and masks, resized to
``--size``) once, solved afresh (``inspect.unwrap`` bypasses the memo), and once more as a repeat
(the audit fills each image and region about twice; ``memoized_fill`` answers a repeat from
memory). Baselines in the same run: ``blur`` (a texture-free fill: one Gaussian filter per
image) for the cost of a solve, and each fill's own fresh solve for the repeat.

Run: ``.venv/bin/python bench/fills.py [--size 224] [--images 20]``
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.data import load_dataset, read_image, read_mask
from hideseek.data.masks import find_mask
from hideseek.representations import fill_names, get_fill

SHARED = Path(__file__).parents[1].parent / "shared" / "data" / "segmentation"


def _pairs(root: Path, n: int, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    data = load_dataset(root, require_label=False)
    out = []
    for r in data.records[:n]:
        image = read_image(data.image_path(r))
        found = find_mask(root / "masks", r.filename)
        if found is None:
            continue
        mask = read_mask(found)
        img = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
        small = Image.fromarray(mask.astype(np.uint8)).resize((size, size),
                                                             Image.Resampling.NEAREST)
        lung = np.asarray(small) > 0
        out.append((img.astype(np.float32), ~lung))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--images", type=int, default=20)
    args = ap.parse_args()
    pairs = _pairs(Path(args.data), args.images, args.size)
    times = {}
    for name in fill_names():
        fill = get_fill(name)
        solve = inspect.unwrap(fill)
        t0 = time.perf_counter()
        for image, keep in pairs:
            solve(image, keep)
        fresh = (time.perf_counter() - t0) / len(pairs)
        for image, keep in pairs:
            fill(image, keep)  # remembered where the fill is memoised
        t0 = time.perf_counter()
        for image, keep in pairs:
            fill(image, keep)
        times[name] = (fresh, (time.perf_counter() - t0) / len(pairs))
    base = times["blur"][0]
    rows = [[name, 1e3 * fresh, fresh / base, 1e3 * again, fresh / max(again, 1e-9)]
            for name, (fresh, again) in times.items()]
    print_table(["fill", "ms / image", "x blur", "repeat ms / image", "repeat speed-up"], rows,
                f"Fills of the lung mask, {len(pairs)} V7 images at {args.size} px "
                "(baselines: blur; each fill's fresh solve)")


if __name__ == "__main__":
    main()
