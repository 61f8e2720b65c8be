"""Entry point: ``hideseek <stage> ...``.

Each stage registers its subcommand in a module of this package; handlers import their stage
lazily so ``hideseek --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hideseek import __version__
from hideseek.cli import (
    cam_cmds,
    classify_cmds,
    data_cmds,
    plant_cmds,
    protocol_cmds,
    represent_cmds,
    segment_cmds,
)
from hideseek.errors import HideseekError

__all__ = ["build_parser", "main"]

log = logging.getLogger("hideseek")

def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI)."""
    parser = argparse.ArgumentParser(
        prog="hideseek",
        description="ROI Hide-and-Seek: does a chest X-ray classifier look at the lungs? "
        "Stages: data -> segment -> represent -> train/evaluate/audit -> cam -> run/demo.",
    )
    parser.add_argument("--version", action="version", version=f"hideseek {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    data_cmds.register(sub)
    plant_cmds.register(sub)
    segment_cmds.register(sub)
    represent_cmds.register(sub)
    classify_cmds.register(sub)
    cam_cmds.register(sub)
    protocol_cmds.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except HideseekError as exc:
        if args.debug:
            raise
        print(f"hideseek: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hideseek: interrupted (finished work is kept; rerun to resume)", file=sys.stderr)
        return 130
