"""What a command writes besides its text: ``--json PATH`` (``-``: standard output), and the
one line that any error becomes."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import typing
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = [
    "STDOUT",
    "add_json_argument",
    "describe_error",
    "json_output",
    "silence_stdout",
    "stdout_closed",
    "write_json_arg",
]

#: ``--json -``: the JSON goes to standard output (the command's text to standard error).
STDOUT = "-"

_real_stdout: list[TextIO] = []  # where ``--json -`` writes while the text goes to stderr

_WORKER = re.compile(r"Caught (\w+) in DataLoader worker process \d+")
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?:: (.*))?$")
_DEBUG_HINT = " (rerun with --debug for the traceback)"


def add_json_argument(p: argparse.ArgumentParser, what: str = "the result") -> None:
    """``--json PATH``: also write ``what`` as JSON there (``-``: standard output)."""
    p.add_argument("--json", metavar="PATH", help=f"also write {what} as JSON to PATH ('-': "
                   "standard output; the text then goes to standard error)")


@contextlib.contextmanager
def json_output(path: str | None) -> Iterator[None]:
    """While a command runs with ``--json -``, what it prints goes to standard error, so that
    standard output holds the JSON alone (:func:`write_json_arg`)."""
    if path != STDOUT:
        yield
        return
    _real_stdout.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _real_stdout.pop()


def write_json_arg(path: str | None, obj: Any, **kw: Any) -> None:
    """Write ``obj`` as strict JSON to ``--json PATH`` (nothing when None; ``-``: stdout).

    Args:
        path: The ``--json`` value.
        obj: A result (see :func:`hideseek.jsonio.dumps`).
        **kw: Passed to :func:`hideseek.jsonio.dumps` (e.g. ``default=str``).
    """
    from hideseek.jsonio import dumps, write_json

    if not path:
        return
    if path == STDOUT:
        out = _real_stdout[-1] if _real_stdout else sys.stdout
        out.write(dumps(obj, **kw) + "\n")
        out.flush()
    else:
        write_json(path, obj, **kw)


def _worker_error(text: str) -> tuple[str, str] | None:
    """(type, message) of the original error in a DataLoader worker's re-raised text."""
    if not _WORKER.search(text):
        return None
    lines = text.splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    start = frames[-1] + 1 if frames else 1
    for i in range(start, len(lines)):
        if lines[i] and not lines[i][0].isspace():
            m = _EXC_LINE.match(lines[i])
            if m:
                rest = [line for line in lines[i + 1:] if line.strip()]
                return m.group(1), "\n".join([m.group(2) or "", *rest]).strip()
    return None


def _is_validation_error(exc: BaseException) -> bool:
    if not type(exc).__module__.startswith("pydantic"):
        return False  # pydantic is not even imported for most errors
    from pydantic import ValidationError

    return isinstance(exc, ValidationError)


def describe_error(exc: BaseException) -> str:
    """The message of ``exc`` as the user sees it after ``hideseek: error:``.

    A hideseek error is its message; one re-raised from a DataLoader worker (its text holds
    the worker's traceback) is the original error's message; a pydantic ``ValidationError``
    is its ``field: message`` pairs; anything else is ``Type: message`` with a hint to rerun
    with ``--debug``. A long message is cut with a count (:func:`hideseek.errors.cut_lines`).
    """
    from hideseek.errors import HideseekError, cut_lines

    text = str(exc)
    found = _worker_error(text)
    if found is not None:
        qualname, message = found
        name = qualname.rsplit(".", 1)[-1]
        text = message if qualname.startswith("hideseek.") else (
            f"{name}: {message}{_DEBUG_HINT}" if message else f"{name}{_DEBUG_HINT}")
    elif isinstance(exc, HideseekError):
        pass
    elif _is_validation_error(exc):
        from pydantic import ValidationError

        from hideseek.validation import format_validation_error

        invalid = typing.cast(ValidationError, exc)
        text = f"invalid {invalid.title}: {format_validation_error(invalid)}"
    else:
        text = f"{type(exc).__name__}: {text}{_DEBUG_HINT}" if text else (
            f"{type(exc).__name__}{_DEBUG_HINT}")
    return cut_lines(text)


def stdout_closed() -> bool:
    """True when standard output is a pipe whose reader has gone (``hideseek ... | head``).

    Standard output without a file descriptor (a test's capture) counts as closed: a broken
    pipe seen while writing it came from it.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return True
    try:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (AttributeError, OSError):  # no poll() on this platform
        return True


def silence_stdout() -> None:
    """Point standard output at the null device, so that Python's flush at exit does not
    fail again on the closed pipe (the Python documentation's SIGPIPE note)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
