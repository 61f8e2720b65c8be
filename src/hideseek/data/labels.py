"""The paper's labels (the COVID preset of :mod:`hideseek.task`), kept for existing imports.

Labels are no longer fixed: a :class:`~hideseek.task.Task` names any classes or findings. These
names are the preset's, for code written against the three-class protocol.
"""

from __future__ import annotations

from hideseek.task import COVID_TASK

__all__ = ["LABELS", "LABEL_INDEX", "normalise_label"]

#: The COVID preset's classes: normal, pneumonia, COVID-19.
LABELS: tuple[str, ...] = COVID_TASK.classes
LABEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}


def normalise_label(raw: str) -> str | None:
    """The COVID preset's class a raw label names (``COVID19``, ``covid``...); None if none."""
    return COVID_TASK.normalise(raw)
