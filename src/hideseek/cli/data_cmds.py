"""``hideseek phantom`` and ``hideseek data check``."""

from __future__ import annotations

import argparse
from typing import Any

from hideseek.cli.output import add_json_argument, write_json_arg

__all__ = ["PHANTOM_SCENARIOS", "add_data_arguments", "add_max_pixels_argument", "load_data_arg",
           "register"]

#: ``hideseek phantom --scenario`` (the same as :data:`hideseek.data.phantom.SCENARIOS`; kept
#: here so that building the parser imports no numerics).
PHANTOM_SCENARIOS = ("lungs", "shortcut", "both", "intensity", "shape", "covid_source", "null")


def add_data_arguments(p: argparse.ArgumentParser, optional: bool = False) -> None:
    """``DATA`` (pack folder, ImageFolder, folder of images or COVIDx split files), ``--images``.

    ``optional``: DATA may be left out (a config file names it).
    """
    p.add_argument("data", metavar="DATA", nargs="*" if optional else "+",
                   help="dataset folder (manifest.csv + images/, or one subfolder per label, "
                   "or plain images where no labels are needed), several folders read together, "
                   "or COVIDx split file(s)")
    p.add_argument("--images", metavar="DIR", help="images folder for COVIDx split files")


def add_max_pixels_argument(p: argparse.ArgumentParser) -> None:
    """``--max-pixels N``; :func:`load_data_arg` applies it (``hideseek.data.set_max_pixels``)."""
    p.add_argument("--max-pixels", type=int, metavar="N", default=None,
                   help="refuse images larger than N pixels (width x height) as decompression "
                   "bombs (default: Pillow's limit, about 89 million)")


def _data(args: argparse.Namespace) -> Any:
    return args.data if len(args.data) > 1 else args.data[0]


def load_data_arg(args: argparse.Namespace, require_label: bool = True) -> Any:
    """Load the dataset named on the command line."""
    from hideseek.data import load_dataset, set_max_pixels

    if getattr(args, "max_pixels", None) is not None:
        set_max_pixels(args.max_pixels)
    return load_dataset(_data(args), images=args.images, require_label=require_label)


def _phantom(args: argparse.Namespace) -> int:
    from hideseek.data.phantom import PhantomConfig, write_phantom_dataset

    try:
        cfg = PhantomConfig(scenario=args.scenario, n=args.n, size=args.size,
                            correlation=args.correlation, seed=args.seed,
                            evidence=args.evidence, images_per_patient=args.images_per_patient)
    except ValueError as exc:
        from hideseek.errors import HideseekError

        raise HideseekError(str(exc)) from exc
    records = write_phantom_dataset(args.out, cfg)
    print(f"wrote {len(records)} {args.scenario} phantoms to {args.out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from hideseek.data.check import check_path, format_report

    report = check_path(_data(args), images=args.images, decode=not args.no_decode,
                        max_pixels=args.max_pixels)
    print(format_report(report, strict=args.strict))
    write_json_arg(args.json, report.to_json(strict=args.strict))
    return 0 if report.passed(strict=args.strict) else 1


def register(sub: Any) -> None:
    """Add the data subcommands."""
    p = sub.add_parser("phantom", help="write a synthetic CXR dataset with a known answer")
    p.add_argument("--scenario", choices=PHANTOM_SCENARIOS, default="lungs",
                   help="where the class evidence lies (default lungs)")
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
    c.add_argument("--no-decode", action="store_true", help="skip decoding every image")
    c.add_argument("--strict", action="store_true", help="warnings fail too (exit 1), e.g. in "
                   "a CI pipeline")
    add_json_argument(c, "the report")
    c.set_defaults(handler=_check)
