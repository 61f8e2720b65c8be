"""``hideseek run`` and ``hideseek demo``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hideseek.cli.args import CommaList
from hideseek.cli.output import add_json_argument, write_json_arg

__all__ = ["register"]


def _print_verdicts(verdicts: dict[str, Any]) -> None:
    for key, v in verdicts.items():
        print(f"  {key:<28} {v['verdict']:<13} {v['sentence']}")
        per_class = v.get("per_class") or {}
        if per_class:
            print("  " + " " * 28 + " per class: " + ", ".join(
                f"{c} {cv['verdict']}" for c, cv in per_class.items()))


def _run(args: argparse.Namespace) -> int:
    from hideseek.jsonio import to_json
    from hideseek.protocol import load_protocol_config, run_protocol

    cfg = load_protocol_config(args.config, check_paths=not args.validate_only,
                               output=args.out, executor=args.executor,
                               ray_address=args.address)
    if args.validate_only:
        print(f"{args.config}: valid protocol config\n  "
              + cfg.summary(check_paths=False).replace("\n", "\n  "))
        return 0
    results = run_protocol(cfg)
    print("verdicts:")
    _print_verdicts(to_json(results.verdicts))
    print(f"\nreport: {Path(cfg.output) / 'report.html'}\nverdicts: "
          f"{Path(cfg.output) / 'verdicts.json'}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import time

    from hideseek.protocol.demo import DEMO_EXPECTED, demo_is_right, run_demo

    t0 = time.perf_counter()
    verdicts = run_demo(args.out, n=args.n, archs=tuple(args.archs),
                        executor=args.executor, address=args.address)
    right = demo_is_right(verdicts)
    expected = ", ".join(f"{k} -> {v}" for k, v in DEMO_EXPECTED.items())
    print(f"demo finished in {time.perf_counter() - t0:.0f} s; verdicts "
          f"({'as expected' if right else 'NOT as expected'}: {expected}):")
    _print_verdicts(verdicts)
    print(f"\nreport: {Path(args.out) / 'report.html'}\nverdicts: "
          f"{Path(args.out) / 'verdicts.json'}")
    write_json_arg(args.json, verdicts)
    return 0 if right else 3


def register(sub: Any) -> None:
    """Add ``run`` and ``demo``."""
    r = sub.add_parser("run", help="run the whole protocol from a YAML config")
    r.add_argument("config", metavar="protocol.yaml")
    r.add_argument("--out", help="output folder (overrides the config's 'output')")
    r.add_argument("--executor", choices=["local", "ray"])
    r.add_argument("--address", help="Ray cluster address, e.g. auto or 127.0.0.1:6379")
    r.add_argument("--validate-only", action="store_true",
                   help="check the config (fields, task, architectures, representations; the "
                   "data need not be there yet), print the resolved config and stop")
    r.set_defaults(handler=_run)

    d = sub.add_parser("demo", help="the protocol on phantom data with known answers, with a "
                       "report (2-8 minutes on a 2-core CPU)")
    d.add_argument("--out", default="demo-out", metavar="DIR")
    d.add_argument("--n", type=int, default=600, help="phantoms per scenario (default 600: "
                   "the verdict needs a few hundred test images to decide)")
    d.add_argument("--archs", action=CommaList, default=["resnet18"], metavar="A,B,...",
                   help="architectures trained")
    d.add_argument("--executor", choices=["local", "ray"], default="local")
    d.add_argument("--address")
    add_json_argument(d, "the verdicts")
    d.set_defaults(handler=_demo)
