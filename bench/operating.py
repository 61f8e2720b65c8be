"""Operating characteristics of the verdict on real radiographs with planted evidence.

A grid of marker contamination (0, 0.25, 0.5, 0.75, 1.0 of the marked class's images) x lung
evidence (none, weak, strong opacities in the marked class), two test sizes judged from one
training, trials drawn from the shared collections in turn (Shenzhen, COVID-QU-Ex, the
classification pack; labels re-drawn at random per patient). Each row gives, with Wilson 95%
intervals: the detection rate (the marked class read as ``shortcut``), the architecture's
``shortcut`` rate (a false alarm where no marker was planted), ``uses_lungs``,
``inconclusive``, ``not_learned``, ``undertrained``, and the audit's rates.

Targets (issue "trust you can measure"): at the large test size, a marker on >= 50% of a class's
images found in >= 90% of trials; lung-only evidence called ``shortcut`` in <= 5%; a marker on
every image never ``uses_lungs``. Trials: ``--judged`` where a detection target is judged,
``--false-alarm`` where the false-alarm target is, ``--other`` elsewhere.

Run: ``.venv/bin/python bench/operating.py [--judged 30] [--false-alarm 60] [--other 3]
[--out /tmp/hideseek-operating]`` (about 1-2 minutes per trial on 2 idle CPU cores: resnet18 at
64 px, three models; finished trials are reused when rerun). ``--summarize`` prints the table of
every finished trial in ``--out`` without running any. ``--publish`` adds each finished trial to
``src/hideseek/protocol/operating.json`` (the table the report reads; trials counted there
before, in any session, count towards a cell's number and are not run again; a table of
another training recipe is replaced).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.protocol.operating import (
    HEADER,
    TrialSpec,
    grid_summary,
    load_outcomes,
    publish,
    published_trials,
    run_trial,
    table_rows,
    trial_name,
)

SHARED = Path(__file__).parents[1].parent / "shared" / "data"
BACKGROUNDS = ("segmentation-shenzhen", "segmentation-quex", "classification")
CONTAMINATION = (0.0, 0.25, 0.5, 0.75, 1.0)
LUNG = ("none", "weak", "strong")


def _trials(c: float, lung: str, judged: int, false_alarm: int, other: int) -> int:
    if lung == "none" and c >= 0.5:
        return judged  # the detection target
    if c == 0.0 and lung != "none":
        return false_alarm  # the false-alarm target
    if c == 1.0:
        return judged  # never uses_lungs
    return other


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--judged", type=int, default=30)
    ap.add_argument("--false-alarm", type=int, default=60)
    ap.add_argument("--other", type=int, default=3)
    ap.add_argument("--contamination", default=",".join(f"{c:g}" for c in CONTAMINATION))
    ap.add_argument("--lung", default=",".join(LUNG))
    ap.add_argument("--backgrounds", default=",".join(BACKGROUNDS))
    ap.add_argument("--plan", help="instead of the grid: CONTAMINATION:LUNG:TRIALS,... run in "
                    "this order (e.g. 0.5:none:10,0:strong:10); finished trials are reused")
    ap.add_argument("--no-audit", action="store_true")
    ap.add_argument("--summarize", action="store_true",
                    help="print the table of the finished trials in --out; run nothing")
    ap.add_argument("--publish", action="store_true",
                    help="add each finished trial to the package's operating.json (read by "
                    "the report); trials published before count towards each cell's number")
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hideseek-operating"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    backgrounds = args.backgrounds.split(",")
    out = Path(args.out)
    if args.summarize:
        outcomes = load_outcomes(out)
        rows = (publish(outcomes) if args.publish else {"rows": table_rows(outcomes)})["rows"]
        print_table(HEADER, grid_summary(rows), TITLE)
        return
    plan = [(float(c), lung, int(n)) for c, lung, n in
            (item.split(":") for item in args.plan.split(","))] if args.plan else [
        (c, lung, _trials(c, lung, args.judged, args.false_alarm, args.other))
        for c in (float(v) for v in args.contamination.split(",") if v)
        for lung in args.lung.split(",")]
    # with --publish a cell counts the trials published before (other sessions) towards its
    # number, and each finished trial is published at once: an interrupted grid loses nothing
    counted = published_trials() if args.publish else set()
    outcomes = []
    for c, lung, n in plan:
        done = 0
        for t in itertools.count():
            if done >= n:
                break
            spec = TrialSpec(backgrounds[t % len(backgrounds)], c, lung, t)
            done += 1
            if trial_name(spec) in counted:
                continue
            found = run_trial(Path(args.shared), spec, out, audit=not args.no_audit)
            outcomes += found
            if args.publish:
                publish(found)
            logging.info("c %g lung %s trial %d: %s", c, lung, t,
                         [(o.size, o.verdict, o.marked, o.audit) for o in found])
    rows = publish([])["rows"] if args.publish else table_rows(outcomes)
    print_table(HEADER, grid_summary(rows), TITLE)


TITLE = ("verdict operating characteristics on real radiographs with planted evidence "
         "(ResNet-18, 64 px, 300 training images; rates with Wilson 95% intervals)")


if __name__ == "__main__":
    main()
