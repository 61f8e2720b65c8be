"""The registries of representations and fills: one spec, one registration, read everywhere.

CLI choices and help, figure and report titles, the config validators, the writer and the
verdict's hidden versions all read these registries, so a new representation or fill is one
module plus one ``register_*`` call (see ``docs/ARCHITECTURE.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from hideseek.errors import HideseekError
from hideseek.segmentation.postprocess import Box
from hideseek.validation import all_of

__all__ = [
    "FillFn",
    "RegionFn",
    "RenderFn",
    "RepresentationSpec",
    "UnknownNameError",
    "check_fill",
    "check_representations",
    "fill_help",
    "fill_names",
    "get_fill",
    "get_representation",
    "hidden_representations",
    "register_fill",
    "register_representation",
    "representation_names",
    "representation_title",
    "unregister_fill",
    "unregister_representation",
]

#: (lung mask, box margin, lung boxes or None) -> boolean map of the pixels kept.
RegionFn = Callable[[np.ndarray, int, list[Box] | None], np.ndarray]
#: (image, lung mask) -> the image shown (for versions that are not "keep some, fill the rest").
RenderFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: (image, boolean map of kept pixels) -> fill of the hidden pixels (a scalar or a full image).
FillFn = Callable[[np.ndarray, np.ndarray], "np.ndarray | float"]


class UnknownNameError(HideseekError, ValueError):
    """A representation or fill name that is not registered; the message lists the choices."""


@dataclass(frozen=True)
class RepresentationSpec:
    """One representation of an image.

    Exactly one of ``region`` and ``render`` is set: ``region`` gives the pixels kept (the
    others get the fill), ``render`` gives the image itself.

    Attributes:
        name: Registry key, CLI choice and folder name (``lungs_removed``).
        title: Column title in figures and the report (``lungs removed``).
        help: One line for the CLI and the docs.
        region: The kept region; see :data:`RegionFn`.
        render: The rendered image; see :data:`RenderFn`.
        hides_lungs: A hidden version of the verdict (the lungs are not visible).
        control: A control, not one of the paper's versions (e.g. the silhouette).
        needs_mask: Needs the lung mask (everything but ``data``).
    """

    name: str
    title: str
    help: str
    region: RegionFn | None = None
    render: RenderFn | None = None
    hides_lungs: bool = False
    control: bool = False
    needs_mask: bool = True

    def __post_init__(self) -> None:
        if (self.region is None) == (self.render is None):
            raise HideseekError(f"representation {self.name!r}: give exactly one of region "
                                "and render")


_REPRESENTATIONS: dict[str, RepresentationSpec] = {}
_FILLS: dict[str, tuple[FillFn, str]] = {}
_T = TypeVar("_T")


def _unregister(table: dict[str, Any], name: str, lookup: Callable[[str], _T]) -> _T:
    """Remove ``name`` from ``table``; returns what ``lookup`` (which raises for an unknown
    name, listing the choices) gives for it."""
    found = lookup(name)
    del table[name]
    return found


def register_representation(spec: RepresentationSpec, replace: bool = False) -> RepresentationSpec:
    """Add a representation; its name must be new unless ``replace``.

    Returns:
        ``spec``, so a module can keep it as a constant.
    """
    if spec.name in _REPRESENTATIONS and not replace:
        raise HideseekError(f"representation {spec.name!r} is already registered")
    _REPRESENTATIONS[spec.name] = spec
    return spec


def unregister_representation(name: str) -> RepresentationSpec:
    """Remove a representation (tests, plugins that replace one); returns its spec.

    Raises:
        UnknownNameError: Not registered.
    """
    return _unregister(_REPRESENTATIONS, name, get_representation)


def representation_names(controls: bool = True) -> tuple[str, ...]:
    """Registered representation names in registration order, the controls after the others
    (``controls=False`` leaves them out)."""
    specs = sorted(_REPRESENTATIONS.values(), key=lambda s: s.control)
    return tuple(s.name for s in specs if controls or not s.control)


def get_representation(name: str) -> RepresentationSpec:
    """The spec of ``name``.

    Raises:
        UnknownNameError: Not registered (the message lists the choices).
    """
    try:
        return _REPRESENTATIONS[name]
    except KeyError:
        raise UnknownNameError(f"unknown representation {name!r}; choose from "
                               f"{', '.join(representation_names())}") from None


def representation_title(name: str) -> str:
    """The figure / report title of ``name``; the name itself when it is not registered."""
    spec = _REPRESENTATIONS.get(name)
    return spec.title if spec else name


def hidden_representations() -> tuple[str, ...]:
    """Names of the versions that hide the lungs (the verdict's hidden versions)."""
    return tuple(s.name for s in _REPRESENTATIONS.values() if s.hides_lungs)


def check_representations(names: Iterable[str]) -> list[str]:
    """``names`` as a list, when every one is registered (for the config validators).

    Raises:
        UnknownNameError: A ``ValueError`` naming every unknown name and the choices.
    """
    names = list(names)
    try:
        all_of(names, representation_names(), "representation")
    except ValueError as exc:
        raise UnknownNameError(str(exc)) from None
    return names


def register_fill(name: str, fn: FillFn, help: str = "", replace: bool = False) -> FillFn:
    """Add a fill of the hidden pixels; ``fn`` must not read the hidden pixels of the image.

    Returns:
        ``fn``, so the call can decorate it.
    """
    if name in _FILLS and not replace:
        raise HideseekError(f"fill {name!r} is already registered")
    _FILLS[name] = (fn, help)
    return fn


def unregister_fill(name: str) -> FillFn:
    """Remove a fill; returns its function.

    Raises:
        UnknownNameError: Not registered.
    """
    return _unregister(_FILLS, name, get_fill)


def fill_names() -> tuple[str, ...]:
    """Registered fill names, in registration order."""
    return tuple(_FILLS)


def get_fill(name: str) -> FillFn:
    """The fill function of ``name``.

    Raises:
        UnknownNameError: Not registered (the message lists the choices).
    """
    try:
        return _FILLS[name][0]
    except KeyError:
        raise UnknownNameError(f"unknown fill {name!r}; choose from "
                               f"{', '.join(_FILLS)}") from None


def check_fill(name: str) -> str:
    """``name`` when it is a registered fill (the one validator of every config and command).

    Raises:
        UnknownNameError: A ``ValueError`` naming the choices.
    """
    get_fill(name)
    return name


def fill_help() -> str:
    """``zero (the paper), mean (...), ...``: every fill with its help, for the CLI."""
    return ", ".join(f"{n} ({h})" if h else n for n, (_, h) in _FILLS.items())
