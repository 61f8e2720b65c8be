"""``hideseek plant``: a copy of a dataset with known evidence planted (a positive control)."""

from __future__ import annotations

import argparse
from typing import Any

from hideseek.cli.args import CommaList
from hideseek.cli.data_cmds import add_data_arguments, add_max_pixels_argument, load_data_arg

__all__ = ["MARKER_PLACES", "MARKER_SHAPES", "marker_intensity", "register"]

#: The same as :data:`hideseek.data.plant.MARKER_SHAPES` / ``MARKER_PLACES`` (kept here so that
#: building the parser imports no numerics; a test checks they agree).
MARKER_SHAPES = ("tag", "letter", "ring")
MARKER_PLACES = ("corner", "below", "spine", "random")
_INTENSITIES = {"bright": 1.0, "dark": 0.0}


def marker_intensity(text: str) -> float:
    """``bright`` (1.0), ``dark`` (0.0) or a grey value in [0, 1]."""
    key = text.strip().lower()
    if key in _INTENSITIES:
        return _INTENSITIES[key]
    try:
        return float(key)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected bright, dark or a number, got {text!r}"
                                         ) from None


def _plant(args: argparse.Namespace) -> int:
    from hideseek.data.plant import PlantConfig, plant_dataset

    config = PlantConfig(
        contamination=args.contamination, marked_class=args.marked_class,
        marker_shape=args.marker_shape, marker_place=args.marker_place,
        marker_size=args.marker_size, marker_intensity=args.marker_intensity,
        marker_letter=args.marker_letter, opacity=args.opacity,
        opacity_class=args.opacity_class, opacity_fraction=args.opacity_fraction,
        relabel=args.relabel, classes=tuple(args.classes),
        margin=args.margin, crop_top=args.crop_top, seed=args.seed)
    data = load_data_arg(args, require_label=False)  # labels of any name; checked by plant
    result = plant_dataset(data, args.masks, args.out, config)
    print(result.summary())
    return 0


def register(sub: Any) -> None:
    """Add ``hideseek plant``."""
    p = sub.add_parser(
        "plant", help="write a copy of a dataset with known evidence planted (a marker outside "
        "the lung boxes, opacities inside the lungs, random labels): a positive control",
        description="Write a pack folder (images/, masks/, manifest.csv, planted.csv, "
        "plant.json) with a marker burnt in outside the lung boxes on a fraction of one class's "
        "images and/or smooth opacities inside the lung masks, optionally with labels redrawn "
        "at random per patient. Run the protocol on it to learn which contamination hideseek "
        "detects on data like yours.")
    add_data_arguments(p)
    add_max_pixels_argument(p)
    p.add_argument("--out", required=True, metavar="DIR", help="the pack folder to write (new "
                   "or empty)")
    p.add_argument("--masks", metavar="DIR", default=None, help="lung masks (a folder, or a "
                   "`hideseek segment predict` output; default: DATA's own masks/)")
    p.add_argument("--contamination", type=float, default=0.5, metavar="F",
                   help="fraction of the marked class's images that get the marker, 0..1 "
                   "(default 0.5)")
    p.add_argument("--marked-class", default=None, metavar="C",
                   help="the class that gets the marker (default: the last class: with "
                   "--relabel the last of --classes, else the data's last label, in the order "
                   "normal, pneumonia, COVID-19, then the others as they appear)")
    p.add_argument("--marker-shape", choices=MARKER_SHAPES, default="tag",
                   help="tag: a filled rectangle; letter: a laterality letter; ring: an annulus "
                   "(default tag)")
    p.add_argument("--marker-place", choices=MARKER_PLACES, default="corner",
                   help="corner of the visible field; below the lungs inside the body; spine: on "
                   "the midline between (else above or below) the lungs; random: anywhere "
                   "outside the lung boxes (default corner)")
    p.add_argument("--marker-size", type=float, default=0.06, metavar="F",
                   help="marker height as a fraction of the image's shorter side (default 0.06)")
    p.add_argument("--marker-intensity", type=marker_intensity, default=1.0, metavar="V",
                   help="bright, dark or a grey value in [0, 1] (default 1.0: bright)")
    p.add_argument("--marker-letter", default="R", metavar="X",
                   help="the character of --marker-shape letter (default R)")
    p.add_argument("--opacity", default="none", metavar="LEVEL",
                   help="opacities inside the lungs: none, weak (peak 0.15 of the image's lung "
                   "intensity range), strong (0.6) or a number (default none)")
    p.add_argument("--opacity-class", default=None, metavar="C",
                   help="the class that gets opacities (default: the marked class)")
    p.add_argument("--opacity-fraction", type=float, default=1.0, metavar="F",
                   help="fraction of that class's images that get opacities (default 1.0)")
    p.add_argument("--relabel", action="store_true",
                   help="draw labels at random per patient, balanced over --classes, so the "
                   "data's own confounds carry nothing (default: keep the data's labels)")
    p.add_argument("--classes", action=CommaList, default=["clean", "planted"],
                   metavar="A,B",
                   help="the new class names with --relabel (default clean,planted: names no "
                   "preset reads as its own)")
    p.add_argument("--margin", type=float, default=0.02, metavar="F",
                   help="gap between a marker and the lung boxes and mask, as a fraction of the "
                   "shorter side (default 0.02)")
    p.add_argument("--crop-top", type=float, default=0.08, metavar="F",
                   help="top fraction of the rows the classifier never sees (the protocol's "
                   "crop_top); markers stay below it and inside the central square "
                   "(default 0.08)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice "
                   "(default 0)")
    p.set_defaults(handler=_plant)
