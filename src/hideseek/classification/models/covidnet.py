"""Deprecated alias of :mod:`hideseek.models.covidnet`."""

from __future__ import annotations

from hideseek.models.covidnet import PEPX, CovidNet

__all__ = ["PEPX", "CovidNet"]
