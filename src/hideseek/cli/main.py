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
from hideseek.cli.args import HelpFormatter, iter_parsers, show_defaults
from hideseek.cli.output import describe_error, json_output, silence_stdout, stdout_closed

__all__ = ["build_parser", "main"]

log = logging.getLogger("hideseek")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI).

    One grammar for every command: DATA is positional, lists are comma-separated
    (:class:`~hideseek.cli.args.CommaList`) and every default shows in ``--help``
    (:func:`~hideseek.cli.args.show_defaults`, applied to every subcommand here).
    """
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
    for _, p in iter_parsers(parser):
        p.formatter_class = HelpFormatter
        show_defaults(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status.

    Any error is one line on standard error (``hideseek: error: ...``; ``--debug`` raises it
    with its traceback): 1. An interruption: 130 (rerun the same command to resume). Standard
    output closed by its reader (``hideseek ... | head``): 141, quietly.
    """
    parser = build_parser()
    debug = False
    try:
        args = parser.parse_args(argv)
        debug = args.debug
        logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        if not getattr(args, "handler", None):
            parser.print_help()
            status = 2
        else:
            with json_output(getattr(args, "json", None)):
                status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
        return status
    except SystemExit:  # argparse: --help, --version, usage errors
        _flush_quietly()
        raise
    except (Exception, KeyboardInterrupt) as exc:
        if isinstance(exc, BrokenPipeError) and stdout_closed():
            silence_stdout()
            return 141  # 128 + SIGPIPE, as a shell reports `... | head`
        if debug:
            raise
        if isinstance(exc, KeyboardInterrupt):
            print("hideseek: interrupted; rerun the same command to resume", file=sys.stderr)
            return 130
        print(f"hideseek: error: {describe_error(exc)}", file=sys.stderr)
        return 1


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
