"""Safe decoding: every bad input is refused with a reason code, quickly and without a crash."""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from bot.verification.images import (
    ImageLimits,
    ImageReason,
    ImageRejected,
    brightness,
    decode_image,
    encode_jpeg,
    glare_fraction,
    sharpness,
    to_bgr_array,
    to_gray_array,
)


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def _photo(size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr, "RGB")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge picture: the classic decompression bomb shape."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _code(data: bytes, limits: ImageLimits | None = None) -> str:
    with pytest.raises(ImageRejected) as err:
        decode_image(data, limits)
    return str(err.value.code)


# --- the bad-input set --------------------------------------------------------------------------------


def test_empty() -> None:
    assert _code(b"") == ImageReason.EMPTY


@pytest.mark.parametrize(
    "data",
    [
        b"hello world",
        b"%PDF-1.4\n1 0 obj",
        b"\x00" * 1000,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"PK\x03\x04",
    ],
)
def test_not_an_image(data: bytes) -> None:
    assert _code(data) == ImageReason.NOT_AN_IMAGE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated(fmt: str) -> None:
    data = _encode(_photo(), fmt)
    assert _code(data[: len(data) // 2]) in (ImageReason.TRUNCATED, ImageReason.CORRUPT)


def test_decompression_bomb() -> None:
    data = _png_claiming(100_000, 100_000)
    assert len(data) < 2000
    assert _code(data) == ImageReason.DECOMPRESSION_BOMB


def test_too_many_pixels_for_a_plausible_file() -> None:
    data = _encode(_photo((400, 300)), "JPEG")
    assert _code(data, ImageLimits(max_pixels=100_000)) == ImageReason.TOO_MANY_PIXELS


def test_too_many_bytes() -> None:
    data = _encode(_photo(), "PNG")
    assert _code(data, ImageLimits(max_bytes=len(data) - 1)) == ImageReason.TOO_MANY_BYTES


def test_too_small() -> None:
    data = _encode(_photo((100, 80)), "PNG")
    assert _code(data, ImageLimits(min_side=200)) == ImageReason.TOO_SMALL


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated(fmt: str) -> None:
    frames = [Image.new("RGB", (64, 48), (i * 60, 0, 0)) for i in range(3)]
    data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    assert _code(data) == ImageReason.ANIMATED


def test_unsupported_format() -> None:
    assert _code(_encode(_photo(), "TIFF")) == ImageReason.UNSUPPORTED_FORMAT


def test_single_frame_gif_is_accepted() -> None:
    img = decode_image(_encode(Image.new("P", (40, 30), 3), "GIF"))
    assert img.mode == "RGB" and img.size == (40, 30)


# --- what must work -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_formats_decode_to_rgb(fmt: str) -> None:
    img = decode_image(_encode(_photo(), fmt))
    assert img.mode == "RGB" and img.size == (320, 240)


def test_heic_when_the_wheel_is_there() -> None:
    pytest.importorskip("pillow_heif")
    try:
        data = _encode(_photo(), "HEIF")
    except (KeyError, OSError):
        pytest.skip("no HEIF encoder in this pillow-heif build")
    img = decode_image(data)
    assert img.mode == "RGB" and img.size == (320, 240)


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 20, 100))  # a blue band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    out = decode_image(_encode(img, "JPEG", exif=exif.tobytes()))
    assert out.size == (100, 200)
    top = np.asarray(out)[:10, 40:60].mean(axis=(0, 1))
    assert top[2] > 200 and top[0] < 80  # the left band is now on top


def test_transparency_becomes_white() -> None:
    img = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    out = decode_image(_encode(img, "PNG"))
    assert np.asarray(out).min() == 255


def test_sixteen_bit_grey() -> None:
    arr = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    out = decode_image(_encode(Image.fromarray(arr), "PNG"))
    assert out.mode == "RGB" and np.asarray(out).max() > 200


def test_cmyk_jpeg() -> None:
    out = decode_image(_encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG"))
    assert out.mode == "RGB"


def test_reduced_jpeg_decoding() -> None:
    data = _encode(_photo((2400, 1800)), "JPEG")
    out = decode_image(data, max_side=1000)
    assert 1000 <= max(out.size) < 2400


def test_rejection_is_picklable() -> None:
    err = pickle.loads(pickle.dumps(ImageRejected(ImageReason.TRUNCATED, "x")))
    assert err.code == ImageReason.TRUNCATED and err.detail == "x"


def test_arrays_and_jpeg() -> None:
    img = Image.new("RGB", (30, 20), (10, 20, 30))
    bgr = to_bgr_array(img)
    assert bgr.shape == (20, 30, 3) and tuple(bgr[0, 0]) == (30, 20, 10)
    assert to_gray_array(bgr).shape == (20, 30)
    assert decode_image(encode_jpeg(img)).size == (30, 20)


def test_quality_measures_order_images() -> None:
    sharp = _photo((400, 300)).convert("L")
    blurred = sharp.filter(ImageFilter.GaussianBlur(4))
    assert sharpness(to_gray_array(sharp)) > 10 * sharpness(to_gray_array(blurred))
    dark = np.full((100, 100), 20, np.uint8)
    light = np.full((100, 100), 200, np.uint8)
    assert brightness(dark) < 45 < brightness(light)
    glare = light.copy()
    glare[:20] = 255
    assert glare_fraction(glare) == pytest.approx(0.2)
    assert glare_fraction(light) == 0.0


# --- fuzzing: whatever the bytes, a result or ImageRejected ------------------------------------------

_SEEDS = [_encode(_photo((64, 48)), fmt) for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(_SEEDS),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_mutated_files_never_crash(seed: bytes, flips: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        img = decode_image(bytes(data), ImageLimits(max_pixels=1_000_000))
    except ImageRejected:
        return
    assert img.mode == "RGB"


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(ImageRejected):
        decode_image(data)
