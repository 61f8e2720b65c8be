"""Starting DistributedDataParallel: the caller (the CLI) does it and passes rank and world."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

__all__ = ["DistContext", "init_distributed"]


@dataclass(frozen=True)
class DistContext:
    """This process's place in a distributed run (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True on the rank that validates and writes files."""
        return self.rank == 0


def init_distributed() -> DistContext:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` > 1), else rank 0 of 1.

    NCCL when CUDA is available, gloo otherwise.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return DistContext(rank=torch.distributed.get_rank(), world_size=world)
