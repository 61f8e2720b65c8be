"""``hideseek cam``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hideseek.cli.args import CommaList
from hideseek.cli.data_cmds import add_data_arguments, add_task_arguments, load_data_arg
from hideseek.cli.output import add_json_argument, write_json_arg

__all__ = ["register"]


def _cam(args: argparse.Namespace) -> int:
    from hideseek.classification.evaluate import format_cell
    from hideseek.cli.classify_cmds import model_spec_arg
    from hideseek.explanation import figure3, ratio_plot, run_cam
    from hideseek.protocol.models import ModelCache
    from hideseek.runtime import Runtime

    data = load_data_arg(args)
    reps = list(args.representations)
    models: dict[str, str | Path] = {rep: args.model for rep in reps}
    for spec in args.rep_model or []:
        rep, _, path = spec.partition("=")
        models[rep] = path
    rt = Runtime.auto(device=args.device, amp=False if args.no_amp else None)
    spec = model_spec_arg(args)
    # one cache for the numbers and Fig. 3: each model is read once
    foreign = {"spec": spec, "arch": args.arch, "target_layer": args.target_layer,
               "load": ModelCache().loader(spec=spec, arch=args.arch)}
    result = run_cam(models, data, args.masks, args.out, split=args.split, runtime=rt,
                     batch_size=args.batch_size, max_images=args.max_images,
                     n_boot=args.n_boot, method=args.method, seed=args.seed,
                     target=args.target, **foreign)
    out = Path(args.out)
    classes = [c for c in next(iter(result["representations"].values()))["per_class"]
               if c != "all"]
    plot = ratio_plot(out / "lung_ratio.png", result, classes)
    grid = figure3(models, data, args.masks, out / "fig3.png", split=args.split, runtime=rt,
                   method=args.method, target=args.target, **foreign)
    print(f"{result['method']} on {result['n']} {result['split']} images; share of positive "
          "attribution inside the lungs / lung share of the area, pointing game, occlusion "
          "(drop when the lungs are blanked minus drop for an equal area outside); each beside "
          "its null (random maps at the map's own resolution; 95% intervals resample "
          "patients):\n")
    print(f"{'representation':<16} {'grid':<6} {'class':<10} {'n':>4} {'zero':>4}  "
          f"{'lung ratio':<22} {'(null)':<8} {'pointing':<22} {'(null)':<8} occlusion")
    for rep, r in result["representations"].items():
        for cls, m in r["per_class"].items():
            print(f"{rep:<16} {r.get('grid') or '':<6} {cls:<10} {m['n']:>4} "
                  f"{m['n_zero_maps']:>4}  {format_cell(m['lung_ratio']):<22} "
                  f"{_null(m['lung_ratio']):<8} {format_cell(m['pointing']):<22} "
                  f"{_null(m['pointing']):<8} {format_cell(m['occlusion'])}")
    print(f"\nFig. 3 grid: {grid}\nratio plot: {plot}\nper image: {out / 'per_image.csv'}")
    write_json_arg(args.json, result)
    return 0


def _null(m: dict[str, Any]) -> str:
    v = (m.get("null") or {}).get("value")
    return "" if v is None else f"{v:.3f}"


def register(sub: Any) -> None:
    """Add ``cam``."""
    from hideseek.cli.classify_cmds import add_spec_arguments as spec_arguments

    p = sub.add_parser("cam", help="Grad-CAM maps, attribution-in-lungs numbers, Fig. 3")
    p.add_argument("--model", required=True, metavar="MODEL", help="trained model: a training "
                   "folder, a file (.pt2, TorchScript, ONNX: occlusion only) or "
                   "torchvision:/timm:/xrv:/python:NAME (used for every representation unless "
                   "--rep-model overrides one)")
    p.add_argument("--arch", help="architecture of a plain state_dict")
    p.add_argument("--target-layer", metavar="NAME",
                   help="Grad-CAM layer (e.g. features.denseblock4; default: found)")
    spec_arguments(p)
    p.add_argument("--rep-model", action="append", metavar="REP=DIR",
                   help="model for one representation (the protocol: one model per version)")
    add_data_arguments(p, old_option=True)
    p.add_argument("--masks", required=True, metavar="DIR", help="lung masks")
    p.add_argument("--out", required=True, metavar="OUT")
    p.add_argument("--representations", action=CommaList, metavar="A,B,...",
                   default=["data", "lungs_isolated", "lungs_removed", "lungs_framed",
                            "lungs_boxed_out"], help="the representations explained")
    p.add_argument("--split", choices=["test", "val", "train", "all"], default="test")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-images", type=int, help="a stratified (label x source) random "
                   "sample of this many images (seeded by --seed)")
    p.add_argument("--method", default="gradcam", help="registered explanation method "
                   "(gradcam, occlusion, or one registered by a plugin)")
    p.add_argument("--target", metavar="FINDING", help="a multi-label model: the finding "
                   "explained (default: the task's primary, else its first finding)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample, nulls, bootstrap")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
    add_json_argument(p)
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--no-amp", action="store_true", help="disable bf16/fp16 mixed precision")
    add_task_arguments(p)
    p.set_defaults(handler=_cam)
