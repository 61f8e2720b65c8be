"""One intensity policy for every format, EXIF orientation, bombs and compressed DICOM."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from hideseek.data.io import (
    DEFAULT_INTENSITY,
    IntensityPolicy,
    get_max_pixels,
    image_shape,
    read_image,
    read_image_info,
    set_max_pixels,
    write_png,
)
from hideseek.errors import ImageReadError

pydicom = pytest.importorskip("pydicom")


def _gradient(hi: int, dtype: type = np.uint16) -> np.ndarray:
    return np.linspace(0, hi, 32 * 32).reshape(32, 32).astype(dtype)


def test_12bit_data_in_16bit_png_with_sbit(tmp_path: Path) -> None:
    arr = _gradient(4095)
    info = PngInfo()
    info.add(b"sBIT", bytes([12]))
    p = tmp_path / "sbit.png"
    Image.fromarray(arr).save(p, pnginfo=info)
    got = read_image_info(p)
    assert got.bits == 12 and got.scaling == "12"
    np.testing.assert_allclose(got.pixels, arr / 4095.0, atol=1e-6)


def test_12bit_data_in_16bit_png_without_sbit_is_windowed(tmp_path: Path) -> None:
    # The bug of the issue: divided by 65535 the image read back nearly black (max 0.06).
    p = tmp_path / "raw12.png"
    Image.fromarray(_gradient(4095)).save(p)
    got = read_image_info(p)
    assert got.scaling == "window" and got.bits == 16
    assert got.pixels.max() == pytest.approx(1.0) and got.pixels.min() == pytest.approx(0.0)
    assert 0.4 < float(got.pixels.mean()) < 0.6


def test_same_pixels_read_the_same_in_every_format(tmp_path: Path) -> None:
    """A 12-bit image as PNG with sBIT, 16-bit TIFF, and DICOM with BitsStored 12 agree."""
    arr = _gradient(4095)
    info = PngInfo()
    info.add(b"sBIT", bytes([12]))
    Image.fromarray(arr).save(tmp_path / "a.png", pnginfo=info)
    _ds(tmp_path / "a.dcm", Rows=32, Columns=32, BitsStored=12, HighBit=11,
        PixelRepresentation=0, WindowCenter=None, WindowWidth=None, PixelData=arr.tobytes())
    png, dcm = read_image(tmp_path / "a.png"), read_image(tmp_path / "a.dcm")
    np.testing.assert_allclose(png, dcm, atol=1e-6)
    # Data that fill 16 bits in PNG and TIFF read identically too.
    full = _gradient(65535)
    Image.fromarray(full).save(tmp_path / "f.png")
    Image.fromarray(full).save(tmp_path / "f.tif")
    np.testing.assert_allclose(read_image(tmp_path / "f.png"), read_image(tmp_path / "f.tif"))


def test_dark_8bit_image_keeps_its_level_and_policy_is_described(tmp_path: Path) -> None:
    p = tmp_path / "dark.png"
    Image.fromarray(_gradient(60, np.uint8)).save(p)
    assert read_image_info(p).scaling == "8"  # 8-bit data are display-encoded: not stretched
    assert read_image(p).max() == pytest.approx(60 / 255)
    always = IntensityPolicy(mode="percentile", low=1.0, high=99.0)
    assert "1-99" in always.describe() and "sBIT" in DEFAULT_INTENSITY.describe()
    assert read_image_info(p, intensity=always).scaling == "window"
    assert read_image(p, intensity=always).max() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        IntensityPolicy(low=60, high=40)


def test_dark_16bit_image_written_by_hideseek_reads_back_exactly(tmp_path: Path) -> None:
    dark = np.linspace(0.0, 0.3, 32 * 32).reshape(32, 32).astype(np.float32)
    write_png(tmp_path / "lungs_only.png", dark, bits=16)
    np.testing.assert_allclose(read_image(tmp_path / "lungs_only.png"), dark, atol=1e-5)


def test_sbit_narrower_than_the_data_falls_back_to_the_container(tmp_path: Path) -> None:
    info = PngInfo()
    info.add(b"sBIT", bytes([12]))
    p = tmp_path / "scaled.png"
    Image.fromarray(_gradient(65535)).save(p, pnginfo=info)  # 12-bit data scaled up to 16 bits
    got = read_image_info(p)
    assert got.scaling == "16"
    np.testing.assert_allclose(got.pixels, _gradient(65535) / 65535.0, atol=1e-6)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    arr = np.zeros((20, 40), np.uint8)
    arr[:, :20] = 250  # bright left half, landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = tmp_path / "phone.jpg"
    Image.fromarray(arr).save(p, exif=exif, quality=95)
    out = read_image(p)
    assert out.shape == (40, 20) == image_shape(p)
    assert out[:20].mean() > 0.8 and out[20:].mean() < 0.2  # bright half now on top


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.fixture
def _limit() -> Iterator[None]:
    before = get_max_pixels()
    yield
    set_max_pixels(before)


@pytest.mark.usefixtures("_limit")
def test_decompression_bomb_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    p.write_bytes(_bomb_png(40000, 40000))
    assert p.stat().st_size < 200
    with pytest.raises(ImageReadError, match=r"40000 x 40000|decompression bomb") as err:
        read_image(p)
    assert str(p) in str(err.value) and "max-pixels" in str(err.value)
    small = tmp_path / "small.png"
    Image.fromarray(np.full((32, 32), 200, np.uint8)).save(small)
    set_max_pixels(500)
    with pytest.raises(ImageReadError, match="above the limit of 500"):
        read_image(small)
    set_max_pixels(2000)
    assert read_image(small).shape == (32, 32)
    with pytest.raises(ValueError):
        set_max_pixels(0)


_TWINS = ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"]


def _bundled(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not bundled")
    return Path(str(path))


@pytest.mark.parametrize("name", _TWINS)
def test_compressed_dicom_matches_uncompressed_twin(name: str) -> None:
    ref = read_image(_bundled("MR_small.dcm"))
    np.testing.assert_array_equal(read_image(_bundled(name)), ref)


def test_jpeg_lossless_process14_rgb_matches_rle_twin() -> None:
    jpeg = read_image(_bundled("SC_rgb_jpeg_gdcm.dcm"))  # JPEG Lossless, process 14, SV1
    np.testing.assert_array_equal(jpeg, read_image(_bundled("SC_rgb_rle.dcm")))
    assert jpeg.shape == (100, 100) and jpeg.max() > jpeg.min()


def test_12bit_jpeg_extended_decodes() -> None:
    # pydicom's JPEG-lossy.dcm has a malformed scan; JPGExtended.dcm is the same image, valid.
    got = read_image_info(_bundled("JPGExtended.dcm"))
    assert got.pixels.shape == (1024, 256) and got.bits == 12
    assert got.pixels.min() == 0.0 and got.pixels.max() == pytest.approx(1.0)


def _ds(path: Path, **changes: object) -> Path:
    ds = pydicom.dcmread(_bundled("MR_small.dcm"))
    for key, value in changes.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(path)
    return path


def test_dicom_errors_stay_clear(tmp_path: Path) -> None:
    multi = pydicom.dcmread(_bundled("MR_small.dcm"))
    one = multi.PixelData
    multi.NumberOfFrames = 2
    multi.PixelData = one + one
    multi.save_as(tmp_path / "multi.dcm")
    with pytest.raises(ImageReadError, match="multi-frame"):
        read_image(tmp_path / "multi.dcm")
    with pytest.raises(ImageReadError, match="unsupported photometric interpretation PALETTE"):
        read_image(_ds(tmp_path / "pal.dcm", PhotometricInterpretation="PALETTE COLOR"))
    with pytest.raises(ImageReadError, match="no pixel data") as err:
        read_image(_ds(tmp_path / "nopix.dcm", PixelData=None))
    assert "nopix.dcm" in str(err.value)


def test_png_bytes_helper_is_a_valid_small_image() -> None:
    with Image.open(io.BytesIO(_bomb_png(4, 4))) as img:
        assert img.size == (4, 4)
