"""The classification task, declared once and carried through every stage.

A :class:`Task` names the classes (or findings) in output order, its kind - ``multiclass`` (one
label per image; binary is K = 2) or ``multilabel`` (any number of findings per image) - an
optional ``primary`` class or finding that decides the architecture's verdict the way COVID-19
does in the paper, and label aliases (spellings read as a class).

Where no task is declared, :func:`infer_task` reads it from the data: the COVID preset
(``normal``, ``pneumonia``, ``COVID-19``, COVID-19 primary) when every label is one of its
aliases, the binary COVIDx preset (``negative``, ``COVID-19``) for ``positive`` / ``negative``
labels, and otherwise the labels present, sorted. This module imports nothing heavy (the CLI
and the config validators read it).
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "COVIDX_BINARY_TASK",
    "COVID_TASK",
    "FINDING_SEPARATOR",
    "PRESETS",
    "TASK_KINDS",
    "UNCERTAIN_POLICIES",
    "Task",
    "TaskKind",
    "UncertainPolicy",
    "infer_task",
    "label_key",
    "normalise_task",
    "parse_task",
    "split_findings",
    "task_config",
]

log = logging.getLogger(__name__)

TaskKind = Literal["multiclass", "multilabel"]
TASK_KINDS: tuple[str, ...] = ("multiclass", "multilabel")
#: What a CheXpert-style uncertain finding (-1) becomes (Irvin et al. 2019): left out of the
#: loss and the metrics of that finding (``ignore``), negative (``zeros``) or positive (``ones``).
UncertainPolicy = Literal["ignore", "zeros", "ones"]
UNCERTAIN_POLICIES: tuple[str, ...] = ("ignore", "zeros", "ones")
#: Separator of the findings of one image in a ``labels`` column.
FINDING_SEPARATOR = "|"


def label_key(raw: str) -> str:
    """The key two spellings of one label share: case, spaces, ``_ - . /`` ignored."""
    return re.sub(r"[\s_\-./]", "", raw.strip().lower())


def split_findings(raw: str) -> list[str]:
    """The findings of a ``labels`` cell (``A|B``; empty: no finding)."""
    return [f.strip() for f in raw.split(FINDING_SEPARATOR) if f.strip()]


@dataclass(frozen=True)
class Task:
    """What a classifier predicts.

    Attributes:
        classes: Class (multiclass) or finding (multilabel) names, in output order.
        kind: ``multiclass`` (one label per image; K = 2 is binary) or ``multilabel``.
        primary: The class or finding whose verdict also decides the architecture's (None:
            no primary).
        aliases: Extra spellings: :func:`label_key` of a raw label -> class name.
        name: The preset's name (``covid``, ``covidx-binary``) or ``custom``.
        uncertain: Multi-label: what an uncertain finding (-1) becomes.
    """

    classes: tuple[str, ...]
    kind: TaskKind = "multiclass"
    primary: str | None = None
    aliases: Mapping[str, str] = field(default_factory=dict, compare=False)
    name: str = "custom"
    uncertain: UncertainPolicy = "ignore"

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("a task needs at least one class")
        if len({label_key(c) for c in self.classes}) != len(self.classes):
            raise ValueError(f"task classes repeat (ignoring case and punctuation): "
                             f"{', '.join(self.classes)}")
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task kind must be one of {', '.join(TASK_KINDS)}, "
                             f"got {self.kind!r}")
        if self.kind == "multiclass" and len(self.classes) < 2:
            raise ValueError(f"a multiclass task needs at least two classes, got "
                             f"{', '.join(self.classes)}")
        if self.primary is not None and self.primary not in self.classes:
            raise ValueError(f"primary {self.primary!r} is not one of the classes "
                             f"{', '.join(self.classes)}")
        if self.uncertain not in UNCERTAIN_POLICIES:
            raise ValueError(f"uncertain must be one of {', '.join(UNCERTAIN_POLICIES)}")
        bad = sorted({v for v in self.aliases.values() if v not in self.classes})
        if bad:
            raise ValueError(f"aliases name classes the task lacks: {', '.join(bad)}")

    @property
    def multilabel(self) -> bool:
        """True for a multi-label (findings) task."""
        return self.kind == "multilabel"

    @property
    def n_classes(self) -> int:
        """Number of classes or findings (outputs)."""
        return len(self.classes)

    @property
    def chance(self) -> float:
        """Chance level of the architecture's endpoint: 1/K balanced accuracy (multiclass),
        0.5 macro AUC (multilabel)."""
        return 0.5 if self.multilabel else 1.0 / len(self.classes)

    @property
    def word(self) -> str:
        """``class`` or ``finding``."""
        return "finding" if self.multilabel else "class"

    @property
    def words(self) -> str:
        """``classes`` or ``findings``."""
        return "findings" if self.multilabel else "classes"

    def index(self, name: str) -> int:
        """The output index of class ``name``."""
        return self.classes.index(name)

    def normalise(self, raw: str) -> str | None:
        """The class a raw label names (its own name under any spelling, or an alias)."""
        key = label_key(raw)
        for c in self.classes:
            if label_key(c) == key:
                return c
        return self.aliases.get(key)

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "classes", "primary"}`` (+ ``name`` and, multi-label, ``uncertain``)."""
        out: dict[str, Any] = {"kind": self.kind, "classes": list(self.classes),
                               "primary": self.primary, "name": self.name}
        if self.multilabel:
            out["uncertain"] = self.uncertain
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Task:
        """A task from :meth:`to_json`'s form (a preset's aliases restored by name)."""
        preset = PRESETS.get(str(value.get("name", "")))
        classes = tuple(str(c) for c in value["classes"])
        aliases = dict(preset.aliases) if preset is not None and preset.classes == classes \
            else {label_key(str(k)): str(v) for k, v in (value.get("aliases") or {}).items()}
        return cls(classes, value.get("kind", "multiclass"), value.get("primary"), aliases,
                   str(value.get("name", "custom")), value.get("uncertain", "ignore"))

    def describe(self) -> str:
        """One line: ``multiclass task normal, pneumonia, COVID-19 (primary COVID-19)``."""
        primary = f" (primary {self.primary})" if self.primary else ""
        return f"{self.kind} task {', '.join(self.classes)}{primary}"


def _aliases(table: Mapping[str, Iterable[str]]) -> dict[str, str]:
    return {label_key(raw): cls for cls, raws in table.items() for raw in raws}


#: The paper's task: normal / pneumonia / COVID-19, COVID-19 primary.
COVID_TASK = Task(
    ("normal", "pneumonia", "COVID-19"), "multiclass", "COVID-19",
    _aliases({"normal": ["normal", "no finding", "healthy"],
              "pneumonia": ["pneumonia", "non-COVID", "non-COVID19", "non-COVID pneumonia",
                            "non-COVID-19 pneumonia"],
              "COVID-19": ["covid", "covid19", "covid2019", "sars-cov-2", "covid pneumonia"]}),
    "covid")
#: Binary COVIDx labels (CXR-2 and later): ``negative`` (normal and non-COVID pneumonia
#: together) and ``positive`` (read as COVID-19, the primary).
COVIDX_BINARY_TASK = Task(
    ("negative", "COVID-19"), "multiclass", "COVID-19",
    _aliases({"negative": ["negative"], "COVID-19": ["positive", "covid", "covid19"]}),
    "covidx-binary")
#: Presets by name, tried in this order when no task is declared.
PRESETS: dict[str, Task] = {t.name: t for t in (COVID_TASK, COVIDX_BINARY_TASK)}


def _spelling(raws: Counter[str]) -> dict[str, str]:
    """Raw label -> the most common spelling of its key (``Normal`` and ``normal`` are one)."""
    by_key: dict[str, Counter[str]] = {}
    for raw, n in raws.items():
        by_key.setdefault(label_key(raw), Counter())[raw] += n
    best = {k: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for k, c in by_key.items()}
    return {raw: best[label_key(raw)] for raw in raws}


def infer_task(labels: Iterable[str], *, multilabel: bool = False,
               origin: object = "data", quiet: bool = False) -> tuple[Task, dict[str, str]]:
    """The task a dataset's labels imply when none is declared.

    Args:
        labels: Every raw label (multiclass) or finding (multi-label) of the data.
        multilabel: The data names findings (a ``labels`` column).
        origin: Named in the log lines (a manifest path).
        quiet: Say how the labels are read at debug level only: for commands that need no
            labels (segmentation), where no label is read.

    Returns:
        The task and the mapping raw label -> class. A preset that renames a label says so
        with the count (``non-COVID`` -> ``pneumonia``: 400 images).
    """
    raws = Counter(labels)
    say = functools.partial(log.log, logging.DEBUG if quiet else logging.WARNING)
    if not multilabel:
        for preset in PRESETS.values():
            mapped = {raw: preset.normalise(raw) for raw in raws}
            if raws and all(mapped.values()):
                renamed = {raw: c for raw, c in mapped.items()
                           if c is not None and label_key(raw) != label_key(c)}
                for raw, c in sorted(renamed.items()):
                    say("%s: %d image(s) labelled %r are read as %r (the %s preset; declare "
                        "the task, e.g. --labels, to keep the data's own names)", origin,
                        raws[raw], raw, c, preset.name)
                if preset is COVIDX_BINARY_TASK:
                    say("%s: binary COVIDx labels: 'negative' holds normal and non-COVID "
                        "pneumonia images together", origin)
                return preset, {raw: c for raw, c in mapped.items() if c is not None}
    spelling = _spelling(raws)
    classes = tuple(sorted(set(spelling.values()), key=lambda c: (c.lower(), c)))
    near = [raw for raw in raws if COVID_TASK.normalise(raw) is None]
    words = [label_key(a) for cls in COVID_TASK.classes for a in (cls, *(
        k for k, v in COVID_TASK.aliases.items() if v == cls))]
    # A near word inside the label (``abnormal`` ~ ``normal``) is another word, not a typo.
    typos = {r: [w for w in difflib.get_close_matches(label_key(r), words, n=1, cutoff=0.75)
                 if w not in label_key(r)] for r in near}
    hint = "; ".join(f"{r!r} looks like {COVID_TASK.normalise(m[0])!r}"
                     for r, m in sorted(typos.items()) if m)
    if not multilabel and near and (hint or len(raws) - len(near) >= 2):
        say("%s: %s not label(s) of the COVID preset (%s), so the task is read from the data "
            "as it is written: %s%s; declare the task (e.g. --labels) if that is not what you "
            "mean", origin, ", ".join(repr(r) for r in sorted(near)),
            ", ".join(COVID_TASK.classes), ", ".join(classes), f" ({hint})" if hint else "")
    if not multilabel and len(classes) < 2:
        raise ValueError(f"{origin}: one label only ({', '.join(classes) or 'none'}); a "
                         "classifier needs two classes or more")
    if not classes:
        raise ValueError(f"{origin}: no finding is named in the labels")
    return Task(classes, "multilabel" if multilabel else "multiclass"), spelling


def task_config(task: Task) -> dict[str, Any]:
    """The task as a config value :func:`parse_task` reads back to the same task (a preset by
    its name; otherwise every field, aliases as ``{key: class}``)."""
    if PRESETS.get(task.name) == task:
        return {"name": task.name, "classes": list(task.classes), "kind": task.kind,
                "primary": task.primary}
    out = {**task.to_json(), "aliases": dict(task.aliases), "uncertain": task.uncertain}
    return out


def normalise_task(value: Any) -> dict[str, Any] | None:
    """A config's ``task`` value in its canonical form (:func:`task_config` of
    :func:`parse_task`; None when no task is declared): the one validator of every config."""
    task = parse_task(value)
    return None if task is None else task_config(task)


def parse_task(value: Any) -> Task | None:
    """A declared task from a config value or ``--labels``.

    Accepts None, a preset name (``covid``), a list of classes, a comma-separated string of
    classes, or a mapping with ``classes`` and optionally ``kind``, ``primary``, ``aliases``
    (``{raw: class}``) and ``uncertain``.

    Raises:
        ValueError: An unknown preset or invalid fields (the message says which).
    """
    if value is None or isinstance(value, Task):
        return value
    if isinstance(value, str):
        if value in PRESETS:
            return PRESETS[value]
        value = [c.strip() for c in value.split(",") if c.strip()]
        if len(value) == 1:
            raise ValueError(f"unknown task preset {value[0]!r}; choose from "
                             f"{', '.join(PRESETS)} or give the classes, comma-separated")
    if isinstance(value, list | tuple):
        value = {"classes": list(value)}
    if not isinstance(value, Mapping):
        raise ValueError(f"a task is a preset name, a list of classes or a mapping, not "
                         f"{type(value).__name__}")
    unknown = sorted(set(value) - {"classes", "kind", "primary", "aliases", "uncertain",
                                   "name"})
    if unknown:
        raise ValueError(f"task: unknown field(s) {', '.join(unknown)} (fields: classes, kind, "
                         "primary, aliases, uncertain)")
    if "classes" not in value:
        raise ValueError("task: 'classes' is required")
    classes = tuple(str(c) for c in value["classes"])
    preset = PRESETS.get(str(value.get("name", "")))
    if preset is not None and preset.classes == classes and "aliases" not in value:
        return preset
    aliases = {label_key(str(k)): str(v) for k, v in (value.get("aliases") or {}).items()}
    return Task(classes, value.get("kind", "multiclass"), value.get("primary"), aliases,
                str(value.get("name", "custom")) if preset is None else "custom",
                value.get("uncertain", "ignore"))
