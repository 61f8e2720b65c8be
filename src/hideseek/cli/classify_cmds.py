"""``hideseek train | evaluate | audit | probe-source``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hideseek.cli.args import CommaList
from hideseek.cli.data_cmds import add_data_arguments, add_task_arguments, load_data_arg, task_arg
from hideseek.cli.output import add_json_argument, write_json_arg

__all__ = ["add_spec_arguments", "model_spec_arg", "register"]


def _runtime(args: argparse.Namespace) -> Any:
    from hideseek.runtime import Runtime

    return Runtime.auto(device=args.device, amp=False if args.no_amp else None)


def _config(args: argparse.Namespace) -> Any:
    from hideseek.classification.config import load_train_config

    return load_train_config(
        args.config, preset=args.preset, arch=args.arch, representation=args.representation,
        fill=args.fill, box_margin=args.box_margin, epochs=args.epochs,
        image_size=args.image_size, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        pretrained=args.pretrained, workers=args.workers, hflip=args.hflip,
        patience=args.patience, min_delta=args.min_delta, compile=args.compile,
        lr_schedule=args.lr_schedule, task=_declared(args), keep_state=args.keep_state or None)


def _declared(args: argparse.Namespace) -> Any:
    """``--labels`` as the training config's task (None: read it from the data)."""
    from hideseek.task import task_config

    task = task_arg(args)
    return None if task is None else task_config(task)


def _train(args: argparse.Namespace) -> int:
    from hideseek.classification.train import train_classifier
    from hideseek.engine import init_distributed

    cfg = _config(args)
    data = load_data_arg(args)
    dist = init_distributed()  # under torchrun: join the process group
    summary = train_classifier(data, args.out, cfg, masks_dir=args.masks, resume=args.resume,
                               runtime=_runtime(args), on_bad_mask=args.on_bad_mask,
                               rank=dist.rank, world_size=dist.world_size)
    if summary.get("rank", 0) != 0:
        return 0  # under torchrun only rank 0 reports
    print(f"{cfg.arch} on {cfg.representation}: best epoch {summary['best_epoch']} "
          f"(validation {cfg.select_metric} {summary['best_val']:.3f}); "
          f"{summary['n']['train']} train / {summary['n']['val']} val images; test split "
          f"untouched ({summary['n']['test']} images) -> {Path(args.out) / 'best.pt'}")
    return 0


def model_spec_arg(args: argparse.Namespace) -> Any:
    """The model spec of ``--spec`` with the spec flags applied (None when none is given)."""
    from hideseek.errors import HideseekError
    from hideseek.models.spec import load_model_spec, spec_from_flags

    base = load_model_spec(args.spec) if args.spec else None
    mapping = None
    if args.mapping:
        pairs = [m.partition("=") for m in args.mapping]
        bad = [m for m, (_, sep, v) in zip(args.mapping, pairs, strict=True) if not sep or not v]
        if bad:
            raise HideseekError(f"--map expects OUTPUT=LABEL, got {bad}")
        mapping = {k: v for k, _, v in pairs}
    if args.input_range is not None and len(args.input_range) != 2:
        raise HideseekError(f"--input-range expects LO,HI, got {len(args.input_range)} values")
    flags = {"classes": args.classes, "activation": args.activation, "mapping": mapping,
             "normal": args.normal, "num_classes": args.num_classes,
             "input_size": args.input_size,
             "input_channels": args.input_channels, "input_range": args.input_range,
             "input_mean": args.input_mean, "input_std": args.input_std,
             "input_crop_top": args.input_crop_top, "input_square": args.input_square}
    if base is None and all(v is None for v in flags.values()):
        return None
    return spec_from_flags(base, **flags)


def _evaluate(args: argparse.Namespace) -> int:
    from hideseek.classification.evaluate import evaluate, format_sources, format_table

    result, preds = evaluate(args.model, load_data_arg(args), args.representation, args.masks,
                             split=args.split, arch=args.arch, runtime=_runtime(args),
                             batch_size=args.batch_size, n_boot=args.n_boot,
                             on_bad_mask=args.on_bad_mask, spec=model_spec_arg(args),
                             external=args.external)
    print(f"{result['arch']} on {result['representation']} ({result['split']} split, "
          f"95% intervals: Wilson for proportions)\n")
    print(format_table({result["representation"]: result}))
    print("\n" + format_sources(result))
    cm = result["confusion_matrix"]
    print("\nconfusion matrix (rows = true, columns = predicted): "
          + "; ".join(f"{lab}: {row}" for lab, row in zip(result["labels"], cm, strict=True)))
    if args.csv:
        preds.write_csv(args.csv)
    write_json_arg(args.json, result)
    return 0


def _audit(args: argparse.Namespace) -> int:
    from hideseek.classification.audit import audit, format_audit
    from hideseek.classification.evaluate import format_table

    result, preds = audit(args.model, load_data_arg(args), args.masks,
                          representations=tuple(args.representations), split=args.split,
                          arch=args.arch, runtime=_runtime(args), batch_size=args.batch_size,
                          n_boot=args.n_boot, on_bad_mask=args.on_bad_mask, fill=args.fill,
                          controls=not args.no_controls, min_effect=args.min_effect,
                          spec=model_spec_arg(args), external=args.external,
                          mask_perturb=args.mask_perturb)
    print(f"audit of {result['arch']} (trained on {result['trained_on'] or 'unknown'}) on "
          f"{result['n']} {result['split']} images in every representation, no retraining\n")
    if "audit_verdict" in result:
        print(format_audit(result) + _perturbation_line(result)
              + "\n\nraw accuracy per version (a drop here is not lung "
              "reliance by itself: read it with the matched controls above)")
    print(format_table(result["representations"], result["vs_data"]))
    if args.csv_dir:
        for rep, p in preds.items():
            p.write_csv(Path(args.csv_dir) / f"{rep}.csv")
    write_json_arg(args.json, result)
    return 0


def _perturbation_line(result: dict[str, Any]) -> str:
    """The mask-perturbation check in one line ('' when not run)."""
    m = result.get("mask_perturbation")
    if not m:
        return ""
    holds = "holds" if m["holds"] else "does NOT hold"
    return (f"\nmasks shrunk / grown by {m['change']:.0%} of the lung width: "
            f"{m['erode']['verdict']} / {m['dilate']['verdict']} - the verdict {holds}")


def _probe(args: argparse.Namespace) -> int:
    from hideseek.classification.evaluate import format_cell
    from hideseek.classification.probe import probe_source

    cfg = _config(args)
    result = probe_source(load_data_arg(args), args.masks, args.out, cfg, runtime=_runtime(args),
                          resume=args.resume)
    print(f"source probe ({', '.join(result['sources'])}), test accuracy:")
    for rep, r in result["representations"].items():
        print(f"  {rep:<15} {format_cell(r['accuracy'])}   (chance {r['chance']:.2f}, n {r['n']})")
    write_json_arg(args.json, result)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--no-amp", action="store_true", help="disable bf16/fp16 mixed precision")
    from hideseek.representations.masks import BAD_MASK_POLICIES

    p.add_argument("--on-bad-mask", choices=BAD_MASK_POLICIES, default="exclude",
                   help="missing / empty / implausible masks")


def _recipe(p: argparse.ArgumentParser) -> None:
    # the defaults are TrainConfig's (a test checks that these texts agree); --config and
    # --preset change them, flags given override both
    p.add_argument("--config", metavar="YAML", help="training config file (flags given "
                   "override it)")
    p.add_argument("--preset", choices=["paper", "covidnet"], help="named recipe (default: "
                   "paper; covidnet: covidnet arch, 480 px, batch 8, lr 2e-4, 10 epochs, flips)")
    p.add_argument("--arch", help="alexnet, vgg11, vgg11_bn, resnet18, resnet50, covidnet, or "
                   "torchvision:NAME, timm:NAME, python:package.module:factory (head replaced) "
                   "(default: resnet50)")
    from hideseek.representations import fill_help, fill_names  # registers the built-ins

    p.add_argument("--fill", choices=fill_names(), help="fill of the hidden region: "
                   + fill_help() + " (default: zero)")
    p.add_argument("--box-margin", type=int, help="pixels around each lung box (default: 0)")
    p.add_argument("--epochs", type=int, help="(default: 20)")
    p.add_argument("--image-size", type=int, help="(default: 224)")
    p.add_argument("--batch-size", type=int, help="(default: 32)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: 0.0001)")
    p.add_argument("--lr-schedule", choices=["constant", "cosine"],
                   help="per-epoch learning rate (default: constant, the paper's)")
    p.add_argument("--seed", type=int, help="(default: 0)")
    p.add_argument("--workers", type=int, help="image decoding processes (default: 0)")
    p.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=None,
                   help="ImageNet weights from the local torch cache (default: yes)")
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None,
                   help="horizontal flips (default: only in the covidnet preset)")
    p.add_argument("--patience", type=int, help="early stopping: epochs without validation "
                   "improvement (default: off)")
    p.add_argument("--min-delta", type=float, help="early stopping: least improvement "
                   "(default: 0.0)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="train through torch.compile (default: no)")
    p.add_argument("--masks", metavar="DIR", help="lung masks (needed for every representation "
                   "but data; also applies the bad-mask policy to data)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out "
                   "(a finished one is reported, nothing trained)")
    p.add_argument("--keep-state", action="store_true", help="keep the resumable state "
                   "(last.pt: weights, optimizer; to train longer later) once training has "
                   "finished (default: only best.pt is kept)")
    add_task_arguments(p)
    _common(p)


def _eval_args(p: argparse.ArgumentParser, masks_required: bool) -> None:
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="training folder, checkpoint, plain state_dict (+ --arch and a class "
                   "order), .pt2 (torch.export), TorchScript, .onnx, torchvision:NAME, "
                   "timm:NAME, xrv:NAME or python:package.module:factory")
    add_data_arguments(p, old_option=True)
    p.add_argument("--masks", required=masks_required, metavar="DIR", help="lung masks")
    p.add_argument("--arch", help="architecture of a plain state_dict (a registry name, "
                   "torchvision:NAME, timm:NAME or python:package.module:factory); refused for "
                   "any other kind")
    add_spec_arguments(p)
    p.add_argument("--split", choices=["test", "val", "train", "all"], default="test")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
    add_json_argument(p)
    add_task_arguments(p)
    _common(p)


def _external_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--external", action="store_true",
                   help="test on every image as data the model never saw (refused when a "
                   "patient is in the model's training or validation split)")


def add_spec_arguments(p: argparse.ArgumentParser) -> None:
    """The model spec flags (``--spec`` and one flag per field; each overrides the file).

    Our checkpoints carry their own spec: a flag that differs from it is refused. An input
    field left out is resolved per model (the model's own, then the defaults below).
    """
    g = p.add_argument_group(
        "model spec", "Foreign models; each flag overrides --spec. Our checkpoints carry their "
        "own: a flag that differs from it is an error. Input fields left out: the model's own "
        "(torchvision / timm weights' transforms, an export's input shape, else its first "
        "convolution: 3 channels -> ImageNet mean / std), else size 224, 1 channel, range 0,1, "
        "crop-top 0.08, square crop.")
    g.add_argument("--spec", metavar="YAML", help="model.yaml: classes, activation, mapping, "
                   "num_classes, input")
    g.add_argument("--classes", action=CommaList, metavar="A,B,...",
                   help="output names in output order")
    g.add_argument("--num-classes", type=int, metavar="N", help="outputs: torchvision:, timm: "
                   "and python: models named by kind get a new N-output head (random weights, as "
                   "for training); other kinds are checked against it")
    g.add_argument("--activation", choices=["softmax", "sigmoid", "probabilities"],
                   help="what the outputs are (default: softmax)")
    g.add_argument("--map", dest="mapping", action=CommaList, metavar="OUTPUT=LABEL,...",
                   help="map outputs to the data's labels, e.g. Pneumonia=pneumonia")
    g.add_argument("--normal", choices=["mapped", "one_minus_max"],
                   help="how the 'normal' class is scored (default: mapped)")
    g.add_argument("--input-size", type=int, metavar="PX")
    g.add_argument("--input-channels", type=int, choices=[1, 3])
    g.add_argument("--input-range", action=CommaList, item=float, metavar="LO,HI")
    g.add_argument("--input-mean", action=CommaList, item=float, metavar="M,...")
    g.add_argument("--input-std", action=CommaList, item=float, metavar="S,...")
    g.add_argument("--input-crop-top", type=float, metavar="F")
    g.add_argument("--input-square", choices=["crop", "pad"])


def register(sub: Any) -> None:
    """Add the classification subcommands."""
    from hideseek.representations.registry import representation_names

    t = sub.add_parser("train", help="train a classifier on one representation")
    add_data_arguments(t)
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--representation", help="data (default), "
                   + ", ".join(n for n in representation_names() if n != "data"))
    _recipe(t)
    t.set_defaults(handler=_train)

    e = sub.add_parser("evaluate", help="test-set metrics with 95%% intervals")
    _eval_args(e, masks_required=False)
    _external_arg(e)
    e.add_argument("--representation", help="default: the one the model was trained on")
    e.add_argument("--csv", metavar="PATH", help="per-image predictions")
    e.set_defaults(handler=_evaluate)

    a = sub.add_parser("audit", help="test one trained model on every representation "
                       "(default: the paper's five)")
    _eval_args(a, masks_required=True)
    _external_arg(a)
    from hideseek.representations.transforms import REPRESENTATIONS

    a.add_argument("--representations", action=CommaList, choices=representation_names(),
                   default=list(REPRESENTATIONS), metavar="A,B,...",
                   help="the versions audited (data is always one; those that hide the lungs "
                   "get matched controls and the verdict)")
    a.add_argument("--csv-dir", metavar="DIR", help="per-image predictions per representation")
    a.add_argument("--fill", help="fill of the hidden region (default: texture, the least "
                   "detectable, for a model trained on the originals; the training fill for one "
                   "trained on a hidden version); any registered fill")
    a.add_argument("--mask-perturb", action="store_true",
                   help="also re-make the verdict with the lung masks shrunk and grown by 2%% of "
                   "the lung width (does it hold under segmentation errors?)")
    a.add_argument("--no-controls", action="store_true",
                   help="skip the matched controls (and the audit verdict)")
    a.add_argument("--min-effect", type=float, default=0.10,
                   help="smallest net drop / skill above chance that counts (balanced accuracy)")
    a.set_defaults(handler=_audit)

    p = sub.add_parser("probe-source", help="can the data source be predicted without the "
                       "lungs?")
    add_data_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR")
    add_json_argument(p)
    p.add_argument("--representation", help=argparse.SUPPRESS)
    _recipe(p)
    p.set_defaults(handler=_probe)
