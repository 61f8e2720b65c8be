"""The verdict rule's known-answer matrix: phantom scenario x test size -> verdict.

Trains ResNet-18 once per scenario and representation on tiny phantoms (fixed seeds), tests on a
small and a large test set and prints the table with the per-class verdicts and flags, then
whether every row is right (exit status 1 if not).

Run: ``.venv/bin/python bench/verdicts.py [--out DIR] [--scenarios lungs,shortcut]
[--n-large 300] [--keep]``
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from hideseek.protocol.matrix import EXPECTED, MatrixSetup, format_matrix, run_matrix


def main(argv: list[str] | None = None) -> int:
    """Run the matrix and print it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="working folder (default: a temporary one)")
    ap.add_argument("--scenarios", default=",".join(EXPECTED))
    ap.add_argument("--n-large", type=int, default=MatrixSetup.n_large)
    ap.add_argument("--n-small", type=int, default=MatrixSetup.n_small)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    setup = MatrixSetup(n_large=args.n_large, n_small=args.n_small, seed=args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_matrix(Path(args.out or tmp), args.scenarios.split(","), setup)
    print(f"\n### Verdict matrix (seed {args.seed}, {time.perf_counter() - t0:.0f} s)\n")
    print(format_matrix(rows))
    for r in rows:
        if r.sentence:
            print(f"\n{r.scenario} / {r.test_size}: {r.sentence}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
