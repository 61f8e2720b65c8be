"""The ``hideseek`` command line: one subcommand per pipeline stage."""

from hideseek.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
