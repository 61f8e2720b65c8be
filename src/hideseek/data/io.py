"""Reading any chest X-ray file into a float32 2-D array in [0, 1], one intensity policy for all.

The intensity policy (:class:`IntensityPolicy`) is the same for PNG, JPEG, TIFF and DICOM: the
stored values are divided by the full scale of the bit depth the pixel data actually use (PNG
``sBIT``, DICOM ``BitsStored``, TIFF ``BitsPerSample``, else the container: 8 or 16 bit). When
the data do not reach the top half of that scale (e.g. 12-bit values in a 16-bit PNG without
``sBIT``), a robust per-image percentile window is used instead.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from hideseek.errors import ImageReadError

__all__ = [
    "DEFAULT_INTENSITY",
    "DICOM_SUFFIXES",
    "DecodedImage",
    "IntensityPolicy",
    "get_max_pixels",
    "image_shape",
    "read_image",
    "read_image_info",
    "read_mask",
    "set_max_pixels",
    "write_png",
]

DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
_PIL_DEFAULT_LIMIT = Image.MAX_IMAGE_PIXELS or 89_478_485
_max_pixels: int = _PIL_DEFAULT_LIMIT
_GRAY_MODES = {"L", "1", "P", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "PA", "La"}
_SOFTWARE = "hideseek"
_COLOUR_DICOM = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT"}


@dataclass(frozen=True)
class IntensityPolicy:
    """How stored pixel values become [0, 1] intensities.

    Attributes:
        mode: ``depth``: divide by the full scale of the bit depth the data use, with the
            percentile window as fallback; ``percentile``: always the per-image window.
        low: Lower percentile of the window.
        high: Upper percentile of the window.
    """

    mode: Literal["depth", "percentile"] = "depth"
    low: float = 0.5
    high: float = 99.5

    def __post_init__(self) -> None:
        if self.mode not in ("depth", "percentile"):
            raise ValueError(f"intensity mode must be 'depth' or 'percentile', got {self.mode!r}")
        if not 0.0 <= self.low < self.high <= 100.0:
            raise ValueError(f"need 0 <= low < high <= 100, got {self.low}, {self.high}")

    def describe(self) -> str:
        """One line to record in a run: what every image went through."""
        window = f"per-image percentile window {self.low:g}-{self.high:g}"
        if self.mode == "percentile":
            return f"intensity: {window} for every image (all formats)"
        return ("intensity: stored values / full scale of the bit depth used (PNG sBIT, DICOM "
                "BitsStored, TIFF BitsPerSample, else the 8/16-bit container; DICOM VOI window "
                f"when present), {window} when data deeper than 8 bits stay below half of that "
                "scale")

    def scale(self, values: np.ndarray, bits: int, signed: bool = False, *,
              container: int | None = None, full_scale: bool = False) -> tuple[np.ndarray, str]:
        """Map stored integer ``values`` of a ``bits``-deep image to [0, 1].

        Args:
            values: The stored values.
            bits: The declared depth (significant bits).
            signed: Two's-complement values (DICOM PixelRepresentation 1).
            container: The container's depth, used when values exceed ``bits``.
            full_scale: The file is known to use its full scale (written by hideseek).

        Returns:
            The float32 image and how it was scaled (``"<bits>"`` or ``"window"``).
        """
        arr = values.astype(np.float64)
        lo_v, top = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        if container and top > 2**bits - 1:  # values beyond the declaration: it is wrong
            bits = container
        offset = float(2 ** (bits - 1)) if signed else 0.0
        full = float(2**bits - 1)
        # 8-bit data are display-encoded: only deeper data can fail to fill their depth.
        used = (top - lo_v) if signed else top
        filled = full_scale or bits <= 8 or used >= (full + 1) / 2
        if self.mode == "depth" and filled and top + offset <= full:
            return np.clip((arr + offset) / full, 0.0, 1.0).astype(np.float32), str(bits)
        lo, hi = np.percentile(arr, [self.low, self.high])
        if hi <= lo:
            lo, hi = float(arr.min()), float(arr.max())
        if hi <= lo:  # a flat image: keep its level on the depth's scale
            return np.clip((arr + offset) / full, 0.0, 1.0).astype(np.float32), str(bits)
        return np.clip((arr - lo) / (hi - lo), 0.0, 1.0).astype(np.float32), "window"


DEFAULT_INTENSITY = IntensityPolicy()
_MASK_INTENSITY = IntensityPolicy(low=0.0, high=100.0)


@dataclass(frozen=True)
class DecodedImage:
    """An image as read, with how its intensities were scaled.

    Attributes:
        pixels: 2-D float32 in [0, 1].
        bits: The bit depth the file declared (or its container's).
        scaling: ``"<bits>"`` when divided by that depth's full scale, ``"window"`` for the
            percentile window, ``"voi"`` for a DICOM window, ``"float"`` for float data.
    """

    pixels: np.ndarray
    bits: int
    scaling: str


def set_max_pixels(limit: int) -> None:
    """Largest image (width x height) any reader accepts; larger ones are refused as bombs."""
    global _max_pixels
    if limit < 1:
        raise ValueError(f"max_pixels must be positive, got {limit}")
    _max_pixels = int(limit)
    # Pillow's own guard warns above its limit and refuses above twice it: keep it >= ours.
    Image.MAX_IMAGE_PIXELS = max(_max_pixels, _PIL_DEFAULT_LIMIT)


def get_max_pixels() -> int:
    """The current limit of :func:`set_max_pixels`."""
    return _max_pixels


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > _max_pixels:
        raise ImageReadError(path, f"image declares {width} x {height} = {width * height} pixels, "
                             f"above the limit of {_max_pixels} (a decompression bomb or a "
                             "huge scan; raise it with --max-pixels)")


def _is_dicom(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in DICOM_SUFFIXES or head[128:132] == b"DICM"


def _dicom_dataset(path: Path) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, force=path.suffix.lower() in DICOM_SUFFIXES)
        if "PixelData" not in ds and "FloatPixelData" not in ds:
            raise ImageReadError(path, "DICOM file has no pixel data")
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            raise ImageReadError(path, f"multi-frame DICOM ({ds.NumberOfFrames} frames)")
        photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
        if not photometric.startswith("MONOCHROME") and photometric not in _COLOUR_DICOM:
            raise ImageReadError(path, f"unsupported photometric interpretation {photometric}")
        _check_pixels(path, int(ds.Columns), int(ds.Rows))
        return ds
    except ImageReadError:
        raise
    except (InvalidDicomError, AttributeError, KeyError, ValueError, OSError) as exc:
        raise ImageReadError(path, f"not a readable DICOM image ({exc})") from exc


def _dicom_pixels(path: Path, ds: Any) -> np.ndarray:
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom and its plugins raise many types for broken pixel data
        raise ImageReadError(path, f"DICOM pixel data unreadable ({exc})") from exc
    if pixels.ndim == 3 and pixels.shape[-1] == 3:  # RGB (pydicom converts YBR to RGB)
        pixels = pixels.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        pixels = np.round(pixels).astype(np.int64)
    if pixels.ndim != 2:
        raise ImageReadError(path, f"expected one 2-D grayscale frame, got shape {pixels.shape}")
    return pixels


def _read_dicom(path: Path, policy: IntensityPolicy) -> DecodedImage:
    from pydicom.pixels import apply_modality_lut

    ds = _dicom_dataset(path)
    pixels = _dicom_pixels(path, ds)
    bits = int(getattr(ds, "BitsStored", 0) or pixels.dtype.itemsize * 8)
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if policy.mode == "depth" and center is not None and width is not None:
        # The window the modality chose for display, on the modality-LUT values.
        c = float(center[0] if ds["WindowCenter"].VM > 1 else center)
        w = float(width[0] if ds["WindowWidth"].VM > 1 else width)
        values = np.asarray(apply_modality_lut(pixels, ds), dtype=np.float64)
        arr = np.clip((values - (c - w / 2)) / max(w, 1e-6), 0.0, 1.0).astype(np.float32)
        scaling = "voi"
    else:
        signed = int(getattr(ds, "PixelRepresentation", 0) or 0) == 1
        arr, scaling = policy.scale(pixels, bits, signed=signed)
    if str(getattr(ds, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        arr = 1.0 - arr  # MONOCHROME1: low values are white
    return DecodedImage(arr, bits, scaling)


def _png_sbit(path: Path) -> int | None:
    """Significant bits of a PNG's gray (or colour) samples from its ``sBIT`` chunk."""
    with path.open("rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        while True:
            head = fh.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind in (b"IDAT", b"IEND"):
                return None
            data = fh.read(length)
            fh.read(4)  # CRC
            if kind == b"sBIT" and data:
                return max(data[:3]) if length in (3, 4) else data[0]


def _declared_bits(img: Image.Image, path: Path, container: int) -> int:
    if img.format == "PNG":
        sbit = _png_sbit(path)
        if sbit and 1 <= sbit <= container:
            return sbit
    if img.format == "TIFF":
        per_sample = getattr(img, "tag_v2", {}).get(258)  # BitsPerSample
        if isinstance(per_sample, tuple):
            per_sample = per_sample[0] if per_sample else None
        if per_sample and 1 <= int(per_sample) <= container:
            return int(per_sample)
    return container


def _pil_array(img: Image.Image, path: Path) -> tuple[np.ndarray, int]:
    """Stored values and container depth of an opened image."""
    mode = img.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N"}:
        return np.asarray(img, dtype=np.uint16), 16
    if mode == "I":
        arr = np.asarray(img)
        return arr, 16 if arr.min(initial=0) >= 0 and arr.max(initial=0) <= 65535 else 32
    if mode == "F":
        return np.asarray(img), 0
    if mode in _GRAY_MODES:
        return np.asarray(img.convert("L")), 8
    raise ImageReadError(path, f"unsupported image mode {mode}")


def _float_unit(arr: np.ndarray, policy: IntensityPolicy) -> np.ndarray:
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if lo >= 0.0 and hi <= 1.0:
        return arr.astype(np.float32)
    return policy.scale(arr, 32)[0]


def _read_pil(path: Path, policy: IntensityPolicy) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                _check_pixels(path, opened.width, opened.height)
                frames = int(getattr(opened, "n_frames", 1))
                if frames > 1:
                    raise ImageReadError(path, f"multi-frame image ({frames} frames)")
                opened.load()
                img = ImageOps.exif_transpose(opened)  # phone photos of films
                arr, container = _pil_array(img, path)
                bits = _declared_bits(opened, path, container) if container else 32
                ours = opened.format == "PNG" and opened.info.get("Software") == _SOFTWARE
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(path, f"decompression bomb refused ({exc}); raise the limit with "
                             "--max-pixels if the image is genuine") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not an image (unrecognised format)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(path, f"corrupt or truncated image ({exc})") from exc
    if arr.dtype.kind == "f":
        return DecodedImage(_float_unit(arr, policy), 32, "float")
    if arr.dtype.kind == "b":
        return DecodedImage(arr.astype(np.float32), 1, "1")
    pixels, scaling = policy.scale(arr, bits, container=container, full_scale=ours)
    return DecodedImage(pixels, bits, scaling)


def read_image_info(path: str | Path, *, intensity: IntensityPolicy | None = None
                    ) -> DecodedImage:
    """Read an image like :func:`read_image` and say how its intensities were scaled."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(132)
    policy = intensity or DEFAULT_INTENSITY
    out = _read_dicom(path, policy) if _is_dicom(path, head) else _read_pil(path, policy)
    arr = out.pixels
    if arr.ndim != 2:
        raise ImageReadError(path, f"expected a 2-D image, got shape {arr.shape}")
    if arr.size == 0 or min(arr.shape) == 0:
        raise ImageReadError(path, f"zero-sized image {arr.shape}")
    if not np.isfinite(arr).all():
        raise ImageReadError(path, "image contains NaN or infinite values")
    return out


def read_image(path: str | Path, *, intensity: IntensityPolicy | None = None) -> np.ndarray:
    """Read a chest X-ray as a float32 grayscale image in [0, 1].

    PNG / JPEG / TIFF (8 or 16 bit; L, LA, RGB, RGBA converted to grayscale; EXIF orientation
    applied) and DICOM (compressed transfer syntaxes through pydicom's plugins; VOI window,
    MONOCHROME1 inverted) are supported. Intensities follow ``intensity`` (default
    :data:`DEFAULT_INTENSITY`).

    Args:
        path: The image file.
        intensity: The intensity policy; None for the default.

    Returns:
        A 2-D float32 array with values in [0, 1].

    Raises:
        ImageReadError: The file is missing, empty, truncated, not an image, multi-frame,
            zero-sized, larger than the pixel limit or of an unsupported kind.
    """
    return read_image_info(path, intensity=intensity).pixels


def image_shape(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
        if _is_dicom(path, head):
            import pydicom

            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            return int(ds.Rows), int(ds.Columns)
        with Image.open(path) as img:
            turned = img.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientation: 90 degrees
            return (img.width, img.height) if turned else (img.height, img.width)
    except ImageReadError:
        raise
    except Exception:
        h, w = read_image(path).shape  # raises the precise error
        return h, w


def read_mask(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a lung mask as a boolean array.

    Masks coded 0/1, 0/255 or with several grey levels are accepted: any non-zero pixel is lung.

    Args:
        path: The mask file.
        shape: When given, the (height, width) the mask must have (its image's shape).

    Raises:
        ImageReadError: Unreadable mask or a size that differs from its image.
    """
    path = Path(path)
    # Any value above the darkest is lung: the window spans the mask's own min to max.
    mask = read_image(path, intensity=_MASK_INTENSITY) > 0
    if shape is not None and mask.shape != tuple(shape):
        raise ImageReadError(
            path, f"mask size {mask.shape[1]}x{mask.shape[0]} differs from its image "
            f"{shape[1]}x{shape[0]} (width x height)"
        )
    return mask


def write_png(path: str | Path, image: np.ndarray, bits: int = 8) -> None:
    """Write a [0, 1] float image (or a boolean mask) as a lossless grayscale PNG.

    Args:
        path: Destination; parent folders are created.
        image: 2-D float array in [0, 1] or boolean mask (written 0/255).
        bits: 8 or 16.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype == bool:
        Image.fromarray(image.astype(np.uint8) * 255).save(path)
        return
    clipped = np.clip(image, 0.0, 1.0)
    # Marked as ours: its values use the full scale, so a dark 16-bit image reads back exactly.
    info = PngInfo()
    info.add_text("Software", _SOFTWARE)
    if bits == 16:
        Image.fromarray(np.round(clipped * 65535).astype(np.uint16)).save(path, pnginfo=info)
    else:
        Image.fromarray(np.round(clipped * 255).astype(np.uint8)).save(path, pnginfo=info)
