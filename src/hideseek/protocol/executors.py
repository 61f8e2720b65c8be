"""Executors: ``local`` runs cells one after the other; ``ray`` spreads them over a cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from hideseek.errors import HideseekError
from hideseek.progress import progress

__all__ = ["run_cells"]

log = logging.getLogger(__name__)

_S = TypeVar("_S")  # a cell's spec (the protocol's: a CellSpec)
_R = TypeVar("_R")  # a cell's result (the protocol's: a CellResult)


def _local(fn: Callable[[_S], _R],
           specs: list[_S]) -> list[_R]:
    results = []
    for spec in progress(specs, desc="protocol cells", total=len(specs)):
        log.info("cell %s", spec)
        results.append(fn(spec))
    return results


def _ray(fn: Callable[[_S], _R], specs: list[_S],
         address: str | None, cpus: float, gpus: float) -> list[_R]:
    try:
        import ray
    except ImportError as exc:
        raise HideseekError("the ray executor needs Ray: pip install 'hideseek[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=True, include_dashboard=False)
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=1)(fn)
    refs = [remote.remote(spec) for spec in specs]
    done: dict[Any, _R] = {}
    pending = list(refs)
    bar = progress(range(len(refs)), desc="protocol cells (ray)", total=len(refs))
    it = iter(bar)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            done[ref] = ray.get(ref)
            next(it, None)
            log.info("ray: %d/%d cells done", len(done), len(refs))
    return [done[r] for r in refs]


def run_cells(fn: Callable[[_S], _R], specs: list[_S],
              executor: str = "local", address: str | None = None, cpus: float = 2.0,
              gpus: float = 0.0) -> list[_R]:
    """Run every cell spec with ``fn`` and return the results in spec order.

    Args:
        fn: The cell function (importable, so Ray workers can run it).
        specs: JSON-able cell definitions.
        executor: ``local`` or ``ray``.
        address: Ray cluster address (``auto``, ``127.0.0.1:6379``, ``ray://...``); None starts
            a local Ray instance.
        cpus: CPUs reserved per cell (Ray).
        gpus: GPUs reserved per cell (Ray).
    """
    if executor == "local":
        return _local(fn, specs)
    if executor == "ray":
        return _ray(fn, specs, address, cpus, gpus)
    raise HideseekError(f"unknown executor {executor!r}; choose local or ray")
