"""Training throughput at 224 px per architecture: our loop vs a plain fp32 loop.

Baseline: fp32, no channels_last, every image decoded and preprocessed from its file each step
(no cache) - how an epoch costs without our data path. Ours: the preprocessing cache, bf16
autocast (CPU with AVX-512 BF16 / AMX, or CUDA) and channels_last. Same model, same images (the
shared classification pack), same batch size and number of steps, in one run.

Run: ``.venv/bin/python bench/train.py [--archs resnet18,resnet50] [--steps 4] [--device cuda]``
GPU (device tool): ``python bench/train.py --device cuda --archs resnet50 --batch-size 64
--steps 20``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table
from hideseek.classification.augment import CXRAugment
from hideseek.classification.config import AugmentConfig
from hideseek.data import ClassificationDataset, Preprocess, load_dataset
from hideseek.models import build_model
from hideseek.runtime import Runtime, cpu_supports_bf16

SHARED = Path(__file__).parents[1].parent / "shared" / "data" / "classification"


def _steps(arch: str, ds: ClassificationDataset, rt: Runtime, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model(arch, 3, pretrained=False)
    rt.model(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    sampler = RandomSampler(ds, replacement=True, num_samples=batch * (steps + 1))
    loader = DataLoader(ds, batch_size=batch, sampler=sampler)
    model.train()
    seen, t0 = 0, 0.0
    for i, (x, y) in enumerate(loader):
        if i == 1:  # the first step (allocations, autotuning) is not timed
            if rt.device.startswith("cuda"):
                torch.cuda.synchronize()
            t0, seen = time.perf_counter(), 0
        with rt.autocast():
            logits = model(rt.batch(x))
        loss = F.cross_entropy(logits.float(), y.to(rt.device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
    if rt.device.startswith("cuda"):
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--archs", default="alexnet,resnet18,resnet50,covidnet,vgg11")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    data = load_dataset(args.data)
    pre = Preprocess(size=args.size)
    aug = CXRAugment(AugmentConfig())
    amp = args.device.startswith("cuda") or cpu_supports_bf16()
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        cached = ClassificationDataset(data, pre, cache_dir=cache, transform=aug)
        for i in range(len(cached)):  # fill the cache once, as the first epoch does
            cached.array(i)
        uncached = ClassificationDataset(data, pre, cache_dir=None, transform=aug)
        for arch in args.archs.split(","):
            base = _steps(arch, uncached, Runtime(args.device, amp=False, channels_last=False),
                          args.batch_size, args.steps)
            ours = _steps(arch, cached, Runtime(args.device, amp=amp, channels_last=True),
                          args.batch_size, args.steps)
            rows.append([arch, base, ours, ours / base])
            print(f"{arch}: baseline {base:.1f} img/s, ours {ours:.1f} img/s", flush=True)
    prec = "bf16" if amp else "fp32"
    print_table(["arch", "baseline fp32, decode each step (img/s)",
                 f"ours cache + {prec} + channels_last (img/s)", "speed-up"], rows,
                f"Training at {args.size} px, batch {args.batch_size}, {args.device}, "
                f"{torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
