"""The audit's known-answer matrix: scenario x image size x fill -> verdict.

Each scenario (phantom evidence in the lungs, a marker outside, a tone curve, a COVID-19-only
marker, nothing; markers planted by ``hideseek plant`` in a corner, below the diaphragm, beside
the spine, and one inside the lung boxes) trains one ResNet-18 on 240 images and is audited on
150 others, with the default fill and every other fill. Right: the expected verdict with the
default fill; with any other fill the expected verdict or ``inconclusive``.

Run: ``.venv/bin/python bench/audit_matrix.py [--sizes 64 128] [--fills zero,mean,blur,linear]
[--scenarios lungs,shortcut] [--out /tmp/hideseek-audit-matrix]`` (about 1 minute per scenario
and size at 64 px on 2 CPU cores; models and images are reused when rerun).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from hideseek.classification.audit_matrix import (
    AUDIT_EXPECTED,
    format_audit_matrix,
    run_audit_matrix,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64])
    ap.add_argument("--fills", default="zero,mean,blur,linear")
    ap.add_argument("--scenarios", default=",".join(AUDIT_EXPECTED))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hideseek-audit-matrix"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = run_audit_matrix(args.out, args.scenarios.split(","), args.sizes,
                            [f for f in args.fills.split(",") if f], seed=args.seed)
    print(format_audit_matrix(rows))
    wrong = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(wrong)} of {len(rows)} rows right")


if __name__ == "__main__":
    main()
