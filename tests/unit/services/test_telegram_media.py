"""Images fitted into Telegram's photo limits (bot/services/telegram_media.py)."""

from __future__ import annotations

import io
import os

from PIL import Image

from bot.services.telegram_media import PhotoLimits, fit_photo, fits


def _image(width: int, height: int, fmt: str = "PNG", noise: bool = False) -> bytes:
    if noise:
        img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        img = Image.new("RGB", (width, height), (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def test_a_photo_that_fits_is_sent_untouched() -> None:
    data = _image(800, 600, "JPEG")
    assert fit_photo(data) is data


def test_an_oversized_png_card_becomes_a_jpeg_within_every_limit() -> None:
    # The case: a 2300x1800 PNG card of about 12 MB, sent as a document.
    data = _image(2300, 1800, noise=True)
    assert len(data) > 10 * 1024 * 1024
    fitted = fit_photo(data)
    width, height = _size(fitted)
    assert fits(width, height, len(fitted))
    assert (width, height) == (2300, 1800)  # within 2560: not scaled, only re-encoded


def test_too_many_pixels_are_scaled_down() -> None:
    data = _image(9000, 3000)
    fitted = fit_photo(data)
    width, height = _size(fitted)
    assert width + height <= 10_000 and fits(width, height, len(fitted))
    assert abs(width / height - 3) < 0.01


def test_a_narrow_strip_is_padded_to_the_allowed_ratio() -> None:
    fitted = fit_photo(_image(2100, 50))
    width, height = _size(fitted)
    assert fits(width, height, len(fitted))
    assert max(width, height) / min(width, height) <= 20


def test_the_byte_limit_lowers_the_quality() -> None:
    limits = PhotoLimits(max_bytes=200_000)
    data = _image(1500, 1500, noise=True)
    fitted = fit_photo(data, limits)
    assert len(fitted) <= 200_000


def test_bytes_that_are_no_image_are_returned_as_they_are() -> None:
    assert fit_photo(b"not an image") == b"not an image"
