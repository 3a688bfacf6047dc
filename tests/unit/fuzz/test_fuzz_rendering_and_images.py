"""Property-based fuzzing of message rendering with hostile values and of the image decoder with
random and mutated bytes (issue 8 §1)."""

from __future__ import annotations

import io
import re
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Environment, meta
from PIL import Image

from bot.config import REPO_ROOT
from bot.i18n import LANGUAGES, Catalog
from bot.verification.images import ImageLimits, ImageReason, ImageRejected, decode_image

HOSTILE = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "<b>",
            "</b>",
            "<script>alert(1)</script>",
            "&amp;",
            "&",
            "<",
            ">",
            '"',
            "'",
            "{{ 7*7 }}",
            "{% for x in y %}",
            "\u202e",
            "\x00",
            "<a href='javascript:1'>x</a>",
            "<br>",
        ]
    ),
)


@cache
def catalog() -> Catalog:
    return Catalog.load(REPO_ROOT / "locales")


def _variables(source: str) -> set[str]:
    return set(re.findall(r"{{\s*([a-z_]+)\s*(?:[|}])", source))


# Templates whose every variable is a plain string value (no loops over structures, no arithmetic: the
# English date's `[month - 1]` takes a number). Every variable the template reads must be one the
# pattern above sees, so that none is left undefined whichever key is drawn.
@cache
def simple_keys() -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    for lang in LANGUAGES:
        for key, source in catalog().messages[lang].items():
            names = _variables(source)
            read = meta.find_undeclared_variables(Environment().parse(source))
            if names and "{%" not in source and read == names:
                out.append((lang, key, tuple(sorted(names))))
    return sorted(out)


_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)")
_ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "blockquote", "tg-spoiler", "strong", "em"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 1st: catalogue load
@given(st.data(), HOSTILE)
def test_user_values_are_escaped_in_every_template(data: st.DataObject, value: str) -> None:
    lang, key, names = data.draw(st.sampled_from(simple_keys()))
    rendered = catalog().render(lang, key, **{n: value for n in names})
    source = catalog().messages[lang][key]
    # Whatever the value, the only tags are the template's own (Telegram's HTML subset).
    tags = set(_TAG.findall(rendered))
    assert tags <= _ALLOWED_TAGS | set(_TAG.findall(source)), (key, value, rendered)
    if "<" in value:
        assert "&lt;" in rendered or value not in rendered


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 100, 30)).save(out, "JPEG")
    return out.getvalue()


SEEDS = [_png(32, 24), _jpeg()]
REASONS = {r.value for r in ImageReason}


def _decode(data: bytes) -> None:
    try:
        img = decode_image(data, ImageLimits(max_pixels=4_000_000))
    except ImageRejected as exc:
        assert exc.code in REASONS
        return
    assert img.mode == "RGB" and img.width > 0 and img.height > 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_decoder_on_random_bytes(data: bytes) -> None:
    _decode(data)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(range(len(SEEDS))),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12),
    st.integers(0, 10_000),
)
def test_decoder_on_mutated_real_images(seed: int, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(SEEDS[seed])
    for position, value in flips:
        data[position % len(data)] = value
    _decode(bytes(data[: max(1, len(data) - cut)]))
