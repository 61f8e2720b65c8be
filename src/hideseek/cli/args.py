"""One grammar for every command: lists, defaults in ``--help``, the parsers of a parser.

- A list option takes comma-separated values (``--representations data,lungs_removed``);
  space-separated values and repeating the option are accepted too (:class:`CommaList`).
- Every option's default shows in ``--help`` (:func:`show_defaults`): a help text that does not
  say it gets ``(default: X)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["CommaList", "HelpFormatter", "default_text", "iter_parsers", "show_defaults"]


def default_text(value: Any) -> str:
    """A default as ``--help`` shows it (a list: comma-separated)."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, a :class:`CommaList` shown as its metavar alone (``A,B,...``)."""

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if isinstance(action, CommaList):
            return self._metavar_formatter(action, default_metavar)(1)[0]
        return super()._format_args(action, default_metavar)


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Add ``(default: X)`` to the help of every option of ``parser`` whose help does not say
    its default (options without a value, or defaulting to None, are left as they are)."""
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or action.help == argparse.SUPPRESS:
            continue
        default = action.default
        if default is None or default is False or default == argparse.SUPPRESS:
            continue
        text = action.help or ""
        if "default" in text:
            continue
        shown = default_text(default).replace("%", "%%")
        action.help = f"{text} (default: {shown})" if text else f"default: {shown}"


class CommaList(argparse.Action):
    """A list option: ``A,B,C``; ``A B C`` and repeating the option are accepted as aliases.

    Args:
        item: Converts one item (``float``...); ``str`` by default.
        choices: The allowed items (checked after splitting).
    """

    def __init__(self, option_strings: Sequence[str], dest: str, nargs: Any = "+",
                 item: Callable[[str], Any] = str, choices: Sequence[Any] | None = None,
                 **kw: Any) -> None:
        if nargs not in ("+", "*"):
            raise ValueError("a CommaList takes nargs '+' or '*'")
        super().__init__(option_strings, dest, nargs=nargs, **kw)
        self.item, self.allowed = item, None if choices is None else list(choices)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        texts = [values] if isinstance(values, str) else list(values or [])
        items = []
        for text in texts:
            for part in str(text).split(","):
                part = part.strip()
                if not part:
                    continue
                try:
                    value = self.item(part)
                except (TypeError, ValueError):
                    parser.error(f"argument {option_string}: invalid value {part!r}")
                if self.allowed is not None and value not in self.allowed:
                    parser.error(f"argument {option_string}: invalid choice {part!r} (choose "
                                 f"from {', '.join(map(str, self.allowed))})")
                items.append(value)
        current = getattr(namespace, self.dest, None)
        given = [] if current is None or current is self.default else list(current)
        setattr(namespace, self.dest, given + items)  # the first use replaces the default


def iter_parsers(parser: argparse.ArgumentParser,
                 path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                          argparse.ArgumentParser]]:
    """``parser`` and every subcommand's parser below it, with their command words."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                yield from iter_parsers(sub, (*path, word))
