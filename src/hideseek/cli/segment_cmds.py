"""``hideseek segment train | crossval | eval | predict``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hideseek.cli.args import CommaList
from hideseek.cli.data_cmds import add_data_arguments, load_data_arg
from hideseek.cli.output import add_json_argument, write_json_arg

# The shipped models' names (hideseek.segmentation.SHIPPED_MODELS; a test keeps them in step:
# the CLI does not import torch to print its help).
_MODEL_HELP = ("model file, training folder or shipped model: 'default' (V7 tracing convention: "
               "the lung behind the heart included) or 'three-collections' (opt-in; V7 + "
               "Shenzhen + COVID-QU-Ex masks, the tighter JSRT / Montgomery-style lungs); "
               "segmentation/weights/MODEL_CARD.md")

__all__ = ["register"]


def _runtime(args: argparse.Namespace) -> Any:
    from hideseek.runtime import Runtime

    return Runtime.auto(device=args.device, amp=False if args.no_amp else None)


def _config(args: argparse.Namespace) -> Any:
    from hideseek.segmentation.config import load_seg_config

    return load_seg_config(
        args.config, preset="paper" if args.paper else None, image_size=args.image_size,
        depth=args.depth, base=args.base, batch_norm=False if args.no_batch_norm else None,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        dice_weight=args.dice_weight, augment=False if args.no_augment else None, seed=args.seed,
        workers=args.workers, schedule=args.schedule, init=args.init, patience=args.patience,
        min_delta=args.min_delta, compile=args.compile, exposure_augment=args.exposure_augment,
        elastic_augment=args.elastic_augment, opacity_augment=args.opacity_augment,
        collection_sampling=args.collection_sampling,
        samples_per_epoch=args.samples_per_epoch, keep_state=args.keep_state or None)


def _training_data(args: argparse.Namespace, config: Any) -> Any:
    """The DATA arguments, else the config's ``data: [...]`` (several datasets train together)."""
    from hideseek.errors import HideseekError

    if not args.data:
        if not config.data:
            raise HideseekError("no data: give DATA (one or more dataset folders) or "
                                "'data: [...]' in --config")
        args.data = config.data
    return load_data_arg(args, require_label=False)


def _train(args: argparse.Namespace) -> int:
    from hideseek.jsonio import dumps
    from hideseek.segmentation.train import train_segmenter

    config = _config(args)
    summary = train_segmenter(_training_data(args, config), args.out, config,
                              resume=args.resume, runtime=_runtime(args))
    print(dumps(summary))
    print(f"best model: {Path(args.out) / 'best.pt'}")
    return 0


def _crossval(args: argparse.Namespace) -> int:
    from hideseek.segmentation.crossval import leave_one_origin_out

    config = _config(args)
    result = leave_one_origin_out(
        _training_data(args, config), args.out, config,
        group_by=args.group_by, min_group=args.min_group,
        folds=args.folds or None, tta=args.tta,
        runtime=_runtime(args))
    print(result.format())
    print(f"per-image Dice and settings: {Path(args.out) / 'crossval.json'}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from hideseek.segmentation import load_segmenter, predict_dataset

    data = load_data_arg(args, require_label=False)
    model, size, meta = load_segmenter(args.model)
    counts = predict_dataset(data, args.out, model, size, batch_size=args.batch_size,
                             workers=args.workers, runtime=_runtime(args), tta=args.tta,
                             qc_ranges=meta.get("qc_ranges"))
    print(f"{counts['images']} images, {counts['images'] - counts['unreadable']} masks in "
          f"{Path(args.out) / 'masks'} ({counts['skipped']} already "
          f"done); flagged: empty {counts['empty']}, one lung {counts['one_lung']}, "
          f"implausible area {counts['implausible_area']}, implausible shape "
          f"{counts['implausible_shape']}, many components {counts['many_components']}, low "
          f"confidence {counts['low_confidence']}, unreadable {counts['unreadable']}; "
          f"{counts['flagged']} flagged in all (one lung not counted) -> "
          f"{Path(args.out) / 'regions.csv'}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from hideseek.segmentation.evaluate import evaluate_segmentation

    result = evaluate_segmentation(load_data_arg(args, require_label=False), args.model,
                                   args.masks, raw=args.raw, batch_size=args.batch_size,
                                   workers=args.workers, runtime=_runtime(args), tta=args.tta)
    print(result.format())
    write_json_arg(args.json, result.to_dict())
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--no-amp", action="store_true", help="disable bf16/fp16 mixed precision")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="image decoding processes")


def _training_arguments(p: argparse.ArgumentParser) -> None:
    """The U-Net training settings shared by ``segment train`` and ``segment crossval``."""
    p.add_argument("--config", metavar="YAML", help="settings file (e.g. a run's config.yaml); "
                   "flags given override it")
    p.add_argument("--epochs", type=int, help="default 60")
    p.add_argument("--lr", type=float, help="default 1e-4")
    p.add_argument("--image-size", type=int, help="default 256")
    p.add_argument("--depth", type=int, help="default 5")
    p.add_argument("--base", type=int, help="filters at the first level (default 16)")
    p.add_argument("--no-batch-norm", action="store_true")
    p.add_argument("--dice-weight", type=float, help="weight of the Dice loss term (default 1)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--exposure-augment", action=argparse.BooleanOptionalAction, default=None,
                   help="exposure / contrast augmentation: window, gamma, local contrast, blur, "
                   "noise (default: no)")
    p.add_argument("--elastic-augment", action=argparse.BooleanOptionalAction, default=None,
                   help="elastic deformation on top of rotation / scale / shift (default: no)")
    p.add_argument("--opacity-augment", action=argparse.BooleanOptionalAction, default=None,
                   help="synthetic consolidation: parts of the lungs whitened, label kept "
                   "(default: no)")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--schedule", choices=["constant", "cosine"], help="default constant")
    p.add_argument("--init", metavar="MODEL", help="start from these U-Net weights (fine-tune)")
    p.add_argument("--patience", type=int, help="early stopping: epochs without validation "
                   "Dice improvement (default: off)")
    p.add_argument("--min-delta", type=float, help="early stopping: least Dice improvement")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="train through torch.compile (default: no)")
    p.add_argument("--collection-sampling", choices=["sqrt", "proportional", "balanced"],
                   help="several datasets: draw each in proportion to the square root of its "
                   "size, to its size, or equally often (default sqrt)")
    p.add_argument("--samples-per-epoch", type=int, metavar="N",
                   help="training images drawn per epoch (default: the training set's size)")
    p.add_argument("--keep-state", action="store_true", help="keep the resumable state "
                   "(last.pt) once training has finished (default: only best.pt is kept)")
    p.add_argument("--paper", action="store_true",
                   help="the paper's U-Net: depth 5, 64 filters, 512 px, batch 1, CE only "
                   "(flags given override it)")
    _common(p)


def register(sub: Any) -> None:
    """Add ``segment`` and its actions."""
    s = sub.add_parser("segment", help="lung segmentation: train, crossval, eval, predict")
    ssub = s.add_subparsers(dest="segment_command", metavar="ACTION", required=True)

    t = ssub.add_parser("train", help="train a U-Net on images with lung masks (several "
                        "datasets train together)")
    add_data_arguments(t, optional=True)
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run in --out "
                   "(a finished one is reported, nothing trained)")
    _training_arguments(t)
    t.set_defaults(handler=_train, batch_size=None, workers=None)

    c = ssub.add_parser("crossval", help="leave-one-origin-out: train on the other origins, "
                        "test on each held-out one (resumable, one folder per fold); several "
                        "datasets with --group-by source: leave-one-collection-out")
    add_data_arguments(c, optional=True)
    c.add_argument("--out", required=True, metavar="DIR")
    c.add_argument("--group-by", default="origin", metavar="COLUMN",
                   help="manifest column of the groups (default origin)")
    c.add_argument("--min-group", type=int, default=5, metavar="N",
                   help="groups with fewer images are pooled into one 'other' group (default 5)")
    c.add_argument("--folds", action=CommaList, metavar="G1,G2",
                   help="only these held-out groups (default: all)")
    c.add_argument("--tta", action="store_true", help="test-time augmentation on held-out images")
    _training_arguments(c)
    c.set_defaults(handler=_crossval, batch_size=None, workers=None)

    e = ssub.add_parser("eval", help="Table-2 metrics against a dataset's true masks")
    add_data_arguments(e)
    e.add_argument("--model", help=_MODEL_HELP)
    e.add_argument("--masks", metavar="DIR", help="evaluate existing predicted masks instead")
    e.add_argument("--raw", action="store_true", help="skip post-processing (with --model)")
    add_json_argument(e)
    e.add_argument("--tta", action="store_true", help="test-time augmentation (with --model)")
    _common(e)
    e.set_defaults(handler=_eval)

    p = ssub.add_parser("predict", help="segment every image; masks/ and regions.csv")
    add_data_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--model", default=None, help=_MODEL_HELP)
    p.add_argument("--tta", action="store_true", help="test-time augmentation: average flipped, "
                   "rescaled and re-exposed views (6 forward passes per image)")
    _common(p)
    p.set_defaults(handler=_predict)
