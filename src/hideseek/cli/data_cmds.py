"""``hideseek phantom``, ``hideseek data check`` and ``hideseek data import``."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from hideseek.cli.output import add_json_argument, write_json_arg

__all__ = ["DATA_HELP", "PHANTOM_SCENARIOS", "PHANTOM_TASKS", "add_data_arguments",
           "add_max_pixels_argument", "add_task_arguments", "load_data_arg", "register",
           "task_arg"]

#: ``hideseek phantom --scenario`` (the same as :data:`hideseek.data.phantom.SCENARIOS`; kept
#: here so that building the parser imports no numerics).
PHANTOM_SCENARIOS = ("lungs", "shortcut", "both", "intensity", "shape", "covid_source", "null")
#: ``hideseek phantom --task`` (:data:`hideseek.data.phantom.PHANTOM_TASKS`).
PHANTOM_TASKS = ("multiclass", "binary", "multilabel")


#: The help of ``DATA``, the same for every command.
DATA_HELP = ("dataset folder (manifest.csv + images/, or one subfolder per label, or plain images "
             "where no labels are needed), several folders read together, or COVIDx split "
             "file(s)")


def add_data_arguments(p: argparse.ArgumentParser, optional: bool = False,
                       old_option: bool = False) -> None:
    """``DATA`` (pack folder, ImageFolder, folder of images or COVIDx split files), ``--images``.

    Args:
        p: The command's parser.
        optional: DATA may be left out (a config file names it).
        old_option: Also accept the old spelling ``--data DATA`` (hidden, deprecated; kept for
            one release by the commands that had it: evaluate, audit, cam).
    """
    if old_option:
        p.add_argument("data", metavar="DATA", nargs="*",
                       help=DATA_HELP + " (the old spelling --data DATA still works for one "
                       "release)")
        p.add_argument("--data", dest="data_option", nargs="+", metavar="DATA",
                       help=argparse.SUPPRESS)
    else:
        p.add_argument("data", metavar="DATA", nargs="*" if optional else "+", help=DATA_HELP)
    p.add_argument("--images", metavar="DIR", help="images folder for COVIDx split files")


def add_max_pixels_argument(p: argparse.ArgumentParser) -> None:
    """``--max-pixels N``; :func:`load_data_arg` applies it (``hideseek.data.set_max_pixels``)."""
    p.add_argument("--max-pixels", type=int, metavar="N", default=None,
                   help="refuse images larger than N pixels (width x height) as decompression "
                   "bombs (default: Pillow's limit, about 89 million)")


def add_task_arguments(p: argparse.ArgumentParser) -> None:
    """``--labels``, ``--multilabel``, ``--primary``: the task (default: read from the data)."""
    g = p.add_argument_group("task (default: read from the data's labels)")
    g.add_argument("--labels", metavar="A,B,...", help="the classes (or findings) in output "
                   "order, comma-separated, or a preset: covid (normal, pneumonia, COVID-19), "
                   "covidx-binary (negative, COVID-19); labels outside it are errors")
    g.add_argument("--multilabel", action="store_true",
                   help="the labels are findings (any number per image; a 'labels' column of "
                   "A|B, or one column per finding)")
    g.add_argument("--primary", metavar="NAME", help="the class or finding whose verdict also "
                   "decides the architecture's (default: the preset's, else none)")


def task_arg(args: argparse.Namespace) -> Any:
    """The task the command line declares (None: read it from the data)."""
    from hideseek.errors import HideseekError
    from hideseek.task import parse_task

    labels, multi, primary = (getattr(args, k, None) for k in ("labels", "multilabel",
                                                                "primary"))
    if labels is None:
        if multi or primary:
            raise HideseekError("--multilabel and --primary need --labels (the classes)")
        return None
    try:
        task = parse_task(labels)
        if task is not None and (multi or primary):
            task = parse_task({"classes": list(task.classes),
                               "kind": "multilabel" if multi else task.kind,
                               "primary": primary or task.primary,
                               "aliases": {k: v for k, v in task.aliases.items()}})
    except ValueError as exc:
        raise HideseekError(f"--labels: {exc}") from None
    return task


def _data(args: argparse.Namespace) -> Any:
    """The DATA paths given (one: as is), the deprecated ``--data`` included."""
    from hideseek.errors import HideseekError

    paths = list(args.data or [])
    old = getattr(args, "data_option", None)
    if old:
        logging.getLogger("hideseek").warning(
            "--data is deprecated and goes in the next release: give DATA as the positional "
            "argument (hideseek %s DATA ...)", getattr(args, "command", "COMMAND"))
        paths += old
    if not paths:
        raise HideseekError("DATA is required: the dataset folder(s) or COVIDx split file(s), "
                            "as the positional argument")
    return paths if len(paths) > 1 else paths[0]


def load_data_arg(args: argparse.Namespace, require_label: bool = True) -> Any:
    """Load the dataset named on the command line (with the task ``--labels`` declares)."""
    from hideseek.data import load_dataset, set_max_pixels

    if getattr(args, "max_pixels", None) is not None:
        set_max_pixels(args.max_pixels)
    return load_dataset(_data(args), images=args.images, require_label=require_label,
                        task=task_arg(args))


def _phantom(args: argparse.Namespace) -> int:
    from hideseek.data.phantom import PhantomConfig, write_phantom_dataset

    try:
        cfg = PhantomConfig(scenario=args.scenario or "", n=args.n, size=args.size,
                            correlation=args.correlation, seed=args.seed,
                            evidence=args.evidence, images_per_patient=args.images_per_patient,
                            task=args.task)
    except ValueError as exc:
        from hideseek.errors import HideseekError

        raise HideseekError(str(exc)) from exc
    records = write_phantom_dataset(args.out, cfg)
    print(f"wrote {len(records)} {cfg.scenario} phantoms ({cfg.task}) to {args.out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from hideseek.data.check import check_path, format_report

    report = check_path(_data(args), images=args.images, decode=not args.no_decode,
                        max_pixels=args.max_pixels, task=task_arg(args))
    print(format_report(report, strict=args.strict))
    write_json_arg(args.json, report.to_json(strict=args.strict))
    return 0 if report.passed(strict=args.strict) else 1


def _import(args: argparse.Namespace) -> int:
    from hideseek.data.importers import import_dataset

    result = import_dataset(args.kind, args.csv, args.out, views=args.views, images=args.images,
                            metadata=args.metadata)
    print(result.describe())
    write_json_arg(args.json, {"kind": result.kind, "manifest": str(result.manifest),
                               "images": str(result.images), "n": result.n,
                               "skipped_views": result.skipped_views,
                               "unlabelled": result.unlabelled})
    return 0


def register(sub: Any) -> None:
    """Add the data subcommands."""
    p = sub.add_parser("phantom", help="write a synthetic CXR dataset with a known answer")
    p.add_argument("--scenario", choices=(*PHANTOM_SCENARIOS, "findings"), default=None,
                   help="where the class evidence lies (default lungs; findings, the only one "
                   "of --task multilabel, is its default there)")
    p.add_argument("--task", choices=PHANTOM_TASKS, default="multiclass",
                   help="multiclass: normal / pneumonia / COVID-19 (default); binary: normal / "
                   "abnormal (abnormal drawn as COVID-19); multilabel: the findings scenario, "
                   "findings opacity (lungs), marker (outside), mixed (both), drawn per "
                   "patient, a 'labels' column")
    p.add_argument("--n", type=int, default=300, help="number of images (default 300)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("--correlation", type=float, default=1.0,
                   help="P(source artefact matches the label), for the scenarios with a "
                   "source (default 1.0)")
    p.add_argument("--evidence", type=float, default=1.0,
                   help="lesion strength multiplier (default 1.0)")
    p.add_argument("--images-per-patient", type=int, default=2,
                   help="images that share one patient id (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(handler=_phantom)

    d = sub.add_parser("data", help="inspect datasets")
    dsub = d.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    c = dsub.add_parser("check", help="counts per label x source x split, intensity per source "
                        "x label, every problem (names, duplicates, labels, missing or "
                        "unreadable files, patient overlap; exit 1) and every warning (missing "
                        "patient ids, small classes, one source, an empty or tiny test split; "
                        "exit 0 unless --strict)")
    add_data_arguments(c)
    add_max_pixels_argument(c)
    add_task_arguments(c)
    c.add_argument("--no-decode", action="store_true", help="skip decoding every image")
    c.add_argument("--strict", action="store_true", help="warnings fail too (exit 1), e.g. in "
                   "a CI pipeline")
    add_json_argument(c, "the report")
    c.set_defaults(handler=_check)

    i = dsub.add_parser("import", help="write a manifest from CheXpert's or MIMIC-CXR-JPG's "
                        "native label files: one column per finding with the native values "
                        "(1, 0, -1 uncertain, blank), patient ids, source, sex / age / view; "
                        "images linked, not copied")
    i.add_argument("kind", choices=("chexpert", "mimic"))
    i.add_argument("csv", nargs="+", metavar="CSV", help="chexpert: train.csv and / or "
                   "valid.csv; mimic: mimic-cxr-2.0.0-chexpert.csv(.gz)")
    i.add_argument("--out", required=True, metavar="DIR", help="folder for manifest.csv, an "
                   "images link and a README")
    i.add_argument("--views", choices=("frontal", "all"), default="frontal",
                   help="frontal views only (default; MIMIC: ViewPosition PA or AP) or all")
    i.add_argument("--images", metavar="DIR", help="the folder the image paths are relative "
                   "to (default: chexpert: the folder above CheXpert-v1.0*/; mimic: the CSV's "
                   "folder, which holds files/)")
    i.add_argument("--metadata", metavar="CSV", help="mimic: mimic-cxr-2.0.0-metadata.csv(.gz) "
                   "(default: beside the label file)")
    add_json_argument(i, "the counts")
    i.set_defaults(handler=_import)
