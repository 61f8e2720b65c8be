"""Device, precision and reproducibility helpers shared by every training and inference loop."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Runtime", "cpu_supports_bf16", "seed_everything"]


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX).

    ``HIDESEEK_CPU_BF16=0`` answers False (to time a run as on a CPU without them).
    """
    if os.environ.get("HIDESEEK_CPU_BF16") == "0":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
    except OSError:
        return False
    return any(f in flags for f in (" avx512_bf16", " amx_bf16"))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


@dataclass
class Runtime:
    """Where and how a model runs.

    Attributes:
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        amp: Mixed precision: bf16 autocast on CPUs that support it, fp16/bf16 AMP on CUDA.
        channels_last: Use the NHWC memory format (faster convolutions on CPU and GPU).
    """

    device: str = "cpu"
    amp: bool = True
    channels_last: bool = True

    @classmethod
    def auto(cls, device: str | None = None, amp: bool | None = None,
             channels_last: bool = True) -> Runtime:
        """Pick CUDA when available, and AMP where it is fast."""
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if amp is None:
            amp = dev.startswith("cuda") or cpu_supports_bf16()
        return cls(device=dev, amp=amp, channels_last=channels_last)

    @property
    def amp_dtype(self) -> torch.dtype:
        """bf16 on CPU and on GPUs that have it, else fp16."""
        if self.device.startswith("cuda") and not torch.cuda.is_bf16_supported():
            return torch.float16
        return torch.bfloat16

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Autocast context for forward passes (a no-op when ``amp`` is off)."""
        if not self.amp:
            yield
            return
        with torch.autocast(device_type=self.device.split(":")[0], dtype=self.amp_dtype):
            yield

    def model(self, module: torch.nn.Module) -> torch.nn.Module:
        """Move a module to the device and memory format."""
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """Move an input batch to the device and memory format."""
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled only for fp16 on CUDA."""
        enabled = self.amp and self.amp_dtype == torch.float16
        return torch.amp.GradScaler(self.device.split(":")[0], enabled=enabled)
