"""Class labels of the protocol and their normalisation."""

from __future__ import annotations

import re

__all__ = ["LABELS", "LABEL_INDEX", "normalise_label"]

LABELS: tuple[str, ...] = ("normal", "pneumonia", "COVID-19")
LABEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LABELS)}

_ALIASES = {
    "normal": "normal",
    "nofinding": "normal",
    "negative": "normal",
    "healthy": "normal",
    "pneumonia": "pneumonia",
    "noncovid": "pneumonia",
    "noncovid19": "pneumonia",
    "noncovidpneumonia": "pneumonia",
    "noncovid19pneumonia": "pneumonia",
    "covid": "COVID-19",
    "covid19": "COVID-19",
    "covid2019": "COVID-19",
    "sarscov2": "COVID-19",
    "positive": "COVID-19",
    "covidpneumonia": "COVID-19",
}


def normalise_label(raw: str) -> str | None:
    """Map a raw label to ``normal``, ``pneumonia`` or ``COVID-19``; None when unknown.

    Case, spaces, dashes and underscores are ignored (``COVID19``, ``covid``, ``Covid-19``...).
    """
    key = re.sub(r"[\s_\-./]", "", raw.strip().lower())
    return _ALIASES.get(key)
