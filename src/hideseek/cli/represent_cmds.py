"""``hideseek represent``."""

from __future__ import annotations

import argparse
from typing import Any

from hideseek.cli.args import CommaList
from hideseek.cli.data_cmds import add_data_arguments, load_data_arg

__all__ = ["register"]


def _represent(args: argparse.Namespace) -> int:
    from hideseek.representations import (
        RepresentOptions,
        assess_masks,
        figure_samples,
        representation_figure,
        resolve_masks_dir,
        write_representations,
    )

    data = load_data_arg(args, require_label=False)  # no label is needed
    masks_dir = resolve_masks_dir(args.masks)
    opt = RepresentOptions(fill=args.fill, box_margin=args.box_margin,
                           on_bad_mask=args.on_bad_mask, bits=args.bits, workers=args.workers,
                           representations=tuple(args.representations
                                                 or RepresentOptions.representations))
    summary = write_representations(data, masks_dir, args.out, opt)
    print(f"{summary['images']} images: {summary['written']} written ({summary['redone']} "
          f"redone: inputs, options or code changed), {summary['skipped']} already there "
          f"(reused), {summary['excluded']} excluded and {summary['kept_original']} kept "
          f"original for a bad mask (policy {args.on_bad_mask}) -> {args.out}/<representation>/")
    print("\nmask QC (lung area fraction per label x source):")
    cols = list(summary["mask_qc"][0])
    print("  ".join(f"{c:>10}" for c in cols))
    for row in summary["mask_qc"]:
        print("  ".join(f"{row[c]!s:>10}" for c in cols))
    if args.figure:
        samples = figure_samples(data, assess_masks(data, masks_dir))
        path = representation_figure(args.figure, samples, args.fill, args.box_margin,
                                     representations=opt.representations)
        print(f"\nfigure: {path}")
    return 0


def register(sub: Any) -> None:
    """Add ``represent``."""
    from hideseek.representations import REPRESENTATIONS
    from hideseek.representations.masks import BAD_MASK_POLICIES
    from hideseek.representations.registry import (
        fill_help,
        fill_names,
        get_representation,
        representation_names,
    )

    p = sub.add_parser("represent", help="write the ROI Hide-and-Seek versions of a dataset "
                       "(default the paper's five)")
    add_data_arguments(p)
    p.add_argument("--masks", required=True, metavar="DIR",
                   help="lung masks named like the images, or a 'segment predict' output folder")
    p.add_argument("--out", required=True, metavar="OUT")
    p.add_argument("--fill", choices=fill_names(), default="zero",
                   help=f"value of hidden pixels: {fill_help()}")
    p.add_argument("--representations", action=CommaList, choices=representation_names(),
                   metavar="A,B,...", help="versions to write (default: "
                   f"{','.join(REPRESENTATIONS)}): "
                   + "; ".join(f"{n}: {get_representation(n).help}"
                               for n in representation_names()))
    p.add_argument("--box-margin", type=int, default=0, help="pixels around each lung box")
    p.add_argument("--on-bad-mask", choices=BAD_MASK_POLICIES, default="exclude",
                   help="missing/empty/implausible masks: exclude from all versions "
                        "(default), keep the original in all, or stop with an error; "
                        "exclude-flagged: also exclude masks that 'segment predict' flagged "
                        "(regions.csv beside the masks)")
    p.add_argument("--bits", type=int, choices=[8, 16], default=8, help="PNG bit depth")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--figure", metavar="PATH", help="also write a Fig. 1-style PNG")
    p.set_defaults(handler=_represent)
