"""Draw fictitious second-generation ID cards (both sides) with our own backgrounds and emblem.

Geometry follows the ID-1 card (85.6 x 54 mm) and the field layout of the real card closely enough
for the engine's layout knowledge (e.g. where the portrait is) to be exercised; nothing is copied
from a real card or a third-party template.
"""

from __future__ import annotations

import math
import random
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tools.cardgen.identities import CardIdentity

__all__ = [
    "CARD_MM",
    "CLASSIC",
    "DESIGNS",
    "PORTRAIT_BOX_MM",
    "SERIF",
    "TEMPLATE",
    "CardDesign",
    "CardFont",
    "find_cjk_fonts",
    "render_back",
    "render_front",
    "synthetic_portrait",
]

CARD_MM = (85.6, 54.0)
# Where the photo sits on the front, in mm from the top-left corner (x0, y0, x1, y1).
PORTRAIT_BOX_MM = (55.5, 6.5, 81.5, 40.0)
LABEL_COLOR = (30, 120, 190)
TEXT_COLOR = (16, 16, 16)


@dataclass(frozen=True)
class CardDesign:
    """How a card is drawn: background, colours, letter spacing and where the text sits.

    Three designs, so that the engine's parsing is measured on layouts it was not written for:
    ``classic`` (the first generator), ``template`` (a real-looking template: denser guilloche,
    blue-grey labels, values in a 黑体, the number in a monospaced face, text shifted right and
    down by a millimetre or two, narrower address column) and ``serif`` (warm background, reddish
    brown labels, values in a serif/Kai face, wider letter spacing, spaced-out date, text shifted
    left and up). Each card adds its own jitter of up to ``jitter_mm`` to every position.
    """

    name: str
    front_base: tuple[int, int, int]
    back_base: tuple[int, int, int]
    label_color: tuple[int, int, int]
    text_color: tuple[int, int, int]
    shift_mm: tuple[float, float] = (0.0, 0.0)
    jitter_mm: float = 0.0
    label_spacing_mm: float = 1.2
    value_spacing_mm: float = 0.0
    name_spacing_mm: float = 0.3
    date_gap_mm: float = 1.0
    address_width_mm: float = 34.5
    line_pitch_mm: float = 4.8
    value_size_mm: float = 3.4
    waves: int = 26
    wave_width_mm: float = 0.12
    fine_lines: bool = False  # a second, finer guilloche across the whole card
    rosettes: int = 1
    # Which installed faces suit the design (parts of the font file name; none found: any CJK face).
    font_hints: tuple[str, ...] = ()

    def fonts(self, installed: Sequence[CardFont]) -> tuple[CardFont, ...]:
        chosen = tuple(f for f in installed if any(h in Path(f.path).name.lower() for h in self.font_hints))
        return chosen or tuple(installed)


# Faces: a light 细黑-like sans for classic (WenQuanYi Micro Hei, Noto Sans CJK), a 黑体 for the
# template (WenQuanYi Zen Hei), a Ming/Song serif or a Kai for serif (AR PL UMing/UKai, Noto Serif CJK).
CLASSIC = CardDesign(
    "classic", (238, 236, 228), (236, 240, 236), LABEL_COLOR, TEXT_COLOR, font_hints=("microhei", "sanscjk")
)
TEMPLATE = CardDesign(
    "template", (232, 238, 240), (234, 236, 242), (70, 100, 130), (10, 10, 14),
    shift_mm=(1.4, 0.9), jitter_mm=0.8, label_spacing_mm=1.6, value_spacing_mm=0.15, name_spacing_mm=0.8,
    date_gap_mm=0.6, address_width_mm=31.0, line_pitch_mm=4.6, value_size_mm=3.3, waves=40,
    wave_width_mm=0.1, fine_lines=True, rosettes=2, font_hints=("zenhei",),
)  # fmt: skip
SERIF = CardDesign(
    "serif", (242, 234, 222), (240, 232, 226), (150, 70, 50), (30, 20, 16),
    shift_mm=(-1.2, -0.8), jitter_mm=1.0, label_spacing_mm=0.9, value_spacing_mm=0.45, name_spacing_mm=1.2,
    date_gap_mm=1.8, address_width_mm=33.0, line_pitch_mm=5.0, value_size_mm=3.5, waves=18,
    wave_width_mm=0.18, rosettes=1, font_hints=("uming", "ukai", "serifcjk"),
)  # fmt: skip
DESIGNS: dict[str, CardDesign] = {d.name: d for d in (CLASSIC, TEMPLATE, SERIF)}

_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
_CJK_NAME_HINTS = ("cjk", "wqy", "uming", "ukai", "droidsansfallback", "simhei", "simsun", "msyh", "zenhei")


@dataclass(frozen=True)
class CardFont:
    """A font file (with its index in a .ttc collection) used for one card."""

    path: str
    index: int = 0

    def get(self, size: int) -> ImageFont.FreeTypeFont:
        return _load_font(self.path, self.index, size)


# Bounded: every card scale asks for new sizes, and a CJK face holds megabytes.
@lru_cache(maxsize=32)
def _load_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index)


@cache
def find_cjk_fonts() -> tuple[CardFont, ...]:
    """Installed fonts that carry simplified Chinese; empty when none (tests then skip)."""
    found: list[CardFont] = []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh-cn", "file", "index", "family"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
        for line in sorted(set(out.splitlines())):
            # "/path/NotoSansCJK-Regular.ttc: Noto Sans CJK SC:index=2"
            path, _, rest = line.partition(":")
            index = int(rest.rsplit("index=", 1)[-1]) if "index=" in rest else 0
            family = rest.lower()
            # In a CJK collection choose the SC face so that glyphs are the simplified forms.
            if ".ttc" in path and "cjk" in path.lower() and " sc" not in family:
                continue
            if "mono" in family:
                continue
            found.append(CardFont(path, index))
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    if not found:
        for root in _FONT_DIRS:
            if root.is_dir():
                found.extend(
                    CardFont(str(p))
                    for p in sorted(root.rglob("*"))
                    if p.suffix.lower() in (".ttf", ".ttc", ".otf")
                    and any(h in p.name.lower() for h in _CJK_NAME_HINTS)
                )
    usable = [f for f in found if _has_glyphs(f)]
    return tuple(dict.fromkeys(usable))


def _has_glyphs(font: CardFont) -> bool:
    try:
        f = font.get(32)
        # A font without the glyph returns a zero-width box or a .notdef of the same box for all.
        boxes = {f.getbbox(ch) for ch in "姓鄂倮"}
        return len(boxes) > 1 or next(iter(boxes))[2] > 0
    except OSError:
        return False


class _Canvas:
    def __init__(self, scale: float) -> None:
        self.px_per_mm = 10.0 * scale
        w, h = (round(v * self.px_per_mm) for v in CARD_MM)
        self.size = (w, h)

    def mm(self, v: float) -> int:
        return round(v * self.px_per_mm)


def _background(
    canvas: _Canvas, rng: random.Random, *, back: bool, design: CardDesign = CLASSIC
) -> Image.Image:
    """A pale guilloche-like background, drawn from sines (ours, not a scan)."""
    w, h = canvas.size
    base = design.back_base if back else design.front_base
    img = Image.new("RGB", canvas.size, base)
    draw = ImageDraw.Draw(img)
    tint = (rng.randint(180, 215), rng.randint(200, 225), rng.randint(205, 230))
    if design.name == "serif":
        tint = (rng.randint(215, 232), rng.randint(190, 210), rng.randint(170, 195))
    for k in range(design.waves):
        amp = h * rng.uniform(0.02, 0.07)
        period = w * rng.uniform(0.2, 0.6)
        phase = rng.uniform(0, 2 * math.pi)
        y0 = h * k / design.waves
        pts = [(x, y0 + amp * math.sin(2 * math.pi * x / period + phase)) for x in range(0, w + 8, 8)]
        draw.line(pts, fill=tint, width=max(1, canvas.mm(design.wave_width_mm)))
    if design.fine_lines:
        # Crossing diagonal sine bands, the look of a printed security background.
        fine = tuple(min(255, c + 12) for c in tint)
        for k in range(-30, 60):
            x0 = w * k / 30
            wobble, period = canvas.mm(1.2), canvas.mm(2.0)
            pts = [(x0 + y * 0.6 + wobble * math.sin(y / period), y) for y in range(0, h + 6, 6)]
            draw.line(pts, fill=fine, width=1)
    # A faint rosette, the way security prints look from afar.
    for _ in range(design.rosettes):
        cx, cy = w * rng.uniform(0.3, 0.6), h * rng.uniform(0.35, 0.65)
        for k in range(18):
            r = canvas.mm(6 + k * 0.9)
            draw.ellipse((cx - r, cy - r * 0.8, cx + r, cy + r * 0.8), outline=tint, width=1)
    return img.filter(ImageFilter.GaussianBlur(0.6))


def _rounded_card(img: Image.Image, canvas: _Canvas) -> Image.Image:
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, img.size[0] - 1, img.size[1] - 1), radius=canvas.mm(3.2), fill=255
    )
    out = Image.new("RGBA", img.size, (0, 0, 0, 0))
    out.paste(img, mask=mask)
    return out


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int],
    *,
    spacing: float = 0.0,
) -> int:
    """Draw with extra letter spacing (px); returns the x after the text."""
    x, y = xy
    if not spacing:
        draw.text((x, y), text, font=font, fill=fill)
        return x + round(draw.textlength(text, font=font))
    for ch in text:
        draw.text((x, y), ch, font=font, fill=fill)
        x += round(draw.textlength(ch, font=font) + spacing)
    return x


def _width(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, spacing: float) -> int:
    """The width ``_text`` gives ``text`` (px)."""
    if not spacing:
        return round(draw.textlength(text, font=font))
    return sum(round(draw.textlength(ch, font=font) + spacing) for ch in text)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, *, spacing: int = 0) -> list[str]:
    lines, current = [], ""
    for ch in text:
        if font.getlength(current + ch) + spacing * len(current) > width and current:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


def synthetic_portrait(rng: random.Random, size: tuple[int, int] = (260, 340)) -> Image.Image:
    """A drawn head-and-shoulders figure (no real person), on the card's pale photo background."""
    w, h = size
    img = Image.new("RGB", size, (236, 238, 240))
    d = ImageDraw.Draw(img)
    skin = (rng.randint(200, 235), rng.randint(160, 195), rng.randint(130, 165))
    hair = (rng.randint(10, 50),) * 3
    shirt = (rng.randint(20, 90), rng.randint(20, 90), rng.randint(40, 120))
    cx = w / 2
    d.ellipse((cx - w * 0.48, h * 0.78, cx + w * 0.48, h * 1.35), fill=shirt)  # shoulders
    d.rectangle((cx - w * 0.1, h * 0.62, cx + w * 0.1, h * 0.82), fill=skin)  # neck
    face = (cx - w * 0.25, h * 0.2, cx + w * 0.25, h * 0.7)
    d.ellipse((face[0] - w * 0.02, face[1] - h * 0.06, face[2] + w * 0.02, face[1] + h * 0.22), fill=hair)
    d.ellipse(face, fill=skin)
    d.chord(
        (face[0] - w * 0.01, face[1] - h * 0.05, face[2] + w * 0.01, face[1] + h * 0.2), 180, 360, fill=hair
    )
    ey = h * 0.42
    for ex in (cx - w * 0.1, cx + w * 0.1):
        d.line(
            (ex - w * 0.06, ey - h * 0.04, ex + w * 0.05, ey - h * 0.045), fill=hair, width=max(2, w // 60)
        )
        d.ellipse((ex - w * 0.04, ey - h * 0.015, ex + w * 0.04, ey + h * 0.02), fill=(250, 250, 250))
        d.ellipse((ex - w * 0.018, ey - h * 0.012, ex + w * 0.018, ey + h * 0.018), fill=(30, 25, 20))
    shade = tuple(max(0, c - 40) for c in skin)
    d.line(
        (cx, ey + h * 0.02, cx - w * 0.03, h * 0.53, cx + w * 0.01, h * 0.54),
        fill=shade,
        width=max(2, w // 80),
    )
    d.arc(
        (cx - w * 0.08, h * 0.56, cx + w * 0.08, h * 0.63), 10, 170, fill=(150, 60, 60), width=max(2, w // 70)
    )
    return img.filter(ImageFilter.GaussianBlur(0.7))


def _shift(design: CardDesign, rng: random.Random) -> tuple[float, float]:
    if not design.jitter_mm:  # keeps the classic design's random sequence as it always was
        return design.shift_mm
    j = design.jitter_mm
    return design.shift_mm[0] + rng.uniform(-j, j), design.shift_mm[1] + rng.uniform(-j, j)


def render_front(
    identity: CardIdentity,
    portrait: Image.Image | None = None,
    *,
    font: CardFont,
    number_font: CardFont | None = None,
    scale: float = 1.0,
    rng: random.Random | None = None,
    design: CardDesign = CLASSIC,
    portrait_out: list[Image.Image] | None = None,
) -> Image.Image:
    """人像面 as an RGBA image (transparent rounded corners), 856 x 540 px at ``scale`` 1.

    ``portrait`` is fitted into the photo box (cropped to its aspect ratio); None draws a synthetic one.
    ``portrait_out`` receives the photo as pasted (the sandbox's identity authority keeps it as its
    photo of the card's fictitious person).
    """
    rng = rng or random.Random(0)
    c = _Canvas(scale)
    img = _background(c, rng, back=False, design=design)
    draw = ImageDraw.Draw(img)
    label = font.get(c.mm(3.0))
    value = font.get(c.mm(design.value_size_mm))
    num_font = (number_font or font).get(c.mm(3.6))
    dx, dy = _shift(design, rng)

    def at(x_mm: float, y_mm: float) -> tuple[int, int]:
        return c.mm(x_mm + dx), c.mm(y_mm + dy)

    lab, txt = design.label_color, design.text_color
    ls, vs = c.mm(design.label_spacing_mm), c.mm(design.value_spacing_mm)
    _text(draw, at(7.0, 8.8), "姓名", label, lab, spacing=ls)
    _text(draw, at(17.5, 8.4), identity.name, value, txt, spacing=c.mm(design.name_spacing_mm))
    _text(draw, at(7.0, 15.2), "性别", label, lab, spacing=ls)
    _text(draw, at(17.5, 14.8), identity.sex, value, txt)
    _text(draw, at(29.5, 15.2), "民族", label, lab, spacing=ls)
    _text(draw, at(40.0, 14.8), identity.ethnicity, value, txt, spacing=vs)
    _text(draw, at(7.0, 21.5), "出生", label, lab, spacing=ls)
    b = identity.birth_date
    gap = c.mm(design.date_gap_mm)
    x, y = at(17.5, 21.5)
    up = c.mm(0.4)
    x = _text(draw, (x, y - up), f"{b.year}", value, txt, spacing=vs) + gap
    x = _text(draw, (x, y), "年", label, lab) + gap
    x = _text(draw, (x, y - up), f"{b.month}", value, txt, spacing=vs) + gap
    x = _text(draw, (x, y), "月", label, lab) + gap
    x = _text(draw, (x, y - up), f"{b.day}", value, txt, spacing=vs) + gap
    _text(draw, (x, y), "日", label, lab)
    _text(draw, at(7.0, 27.8), "住址", label, lab, spacing=ls)
    address_lines = _wrap(identity.address, value, c.mm(design.address_width_mm), spacing=vs)
    if len(address_lines) > 3:
        raise ValueError("the address does not fit in three lines")
    for i, line in enumerate(address_lines):
        ax, ay = at(17.5, 27.4 + i * design.line_pitch_mm)
        _text(draw, (ax, ay), line, value, txt, spacing=vs)
    _text(draw, at(7.0, 44.6), "公民身份号码", label, lab, spacing=c.mm(0.4))
    _text(draw, at(30.0, 44.0), identity.id_number, num_font, txt, spacing=c.mm(0.3))

    px0, py0, px1, py1 = (c.mm(v) for v in PORTRAIT_BOX_MM)
    box_w, box_h = px1 - px0, py1 - py0
    face = portrait if portrait is not None else synthetic_portrait(rng, (box_w, box_h))
    face = _fit(face.convert("RGB"), (box_w, box_h))
    if portrait_out is not None:
        portrait_out.append(face.copy())
    # Card photos have a pale background blended into the card: a soft-edged paste.
    mask = Image.new("L", (box_w, box_h), 0)
    ImageDraw.Draw(mask).rectangle((2, 2, box_w - 3, box_h - 3), fill=255)
    img.paste(face, (px0, py0), mask.filter(ImageFilter.GaussianBlur(max(1, c.mm(0.4)))))
    return _rounded_card(img, c)


def _fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    w, h = img.size
    tw, th = size
    scale = max(tw / w, th / h)
    resized = img.resize((max(tw, round(w * scale)), max(th, round(h * scale))), Image.Resampling.LANCZOS)
    left = (resized.width - tw) // 2
    top = max(0, (resized.height - th) // 3)  # keep the head: crop more from the bottom
    return resized.crop((left, top, left + tw, top + th))


def _emblem(draw: ImageDraw.ImageDraw, c: _Canvas, box: Sequence[float]) -> None:
    """A simple red disc with gold stars: recognisably an emblem, not a reproduction."""
    x0, y0, x1, y1 = (c.mm(v) for v in box)
    draw.ellipse((x0, y0, x1, y1), fill=(200, 30, 30), outline=(230, 180, 40), width=max(2, c.mm(0.6)))
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    for k, (dx, dy, rr) in enumerate(
        ((0, -0.25, 0.28), (0.38, -0.45, 0.1), (0.5, -0.15, 0.1), (0.5, 0.15, 0.1))
    ):
        _star(draw, (cx + dx * r, cy + dy * r), rr * r, rotation=k * 0.3)
    draw.rectangle((cx - r * 0.5, cy + r * 0.2, cx + r * 0.5, cy + r * 0.45), fill=(230, 180, 40))


def _star(draw: ImageDraw.ImageDraw, centre: tuple[float, float], r: float, rotation: float = 0.0) -> None:
    pts = []
    for i in range(10):
        a = -math.pi / 2 + rotation + i * math.pi / 5
        rr = r if i % 2 == 0 else r * 0.4
        pts.append((centre[0] + rr * math.cos(a), centre[1] + rr * math.sin(a)))
    draw.polygon(pts, fill=(240, 200, 40))


def render_back(
    identity: CardIdentity,
    *,
    font: CardFont,
    title_font: CardFont | None = None,
    scale: float = 1.0,
    rng: random.Random | None = None,
    design: CardDesign = CLASSIC,
) -> Image.Image:
    """国徽面 as an RGBA image, 856 x 540 px at ``scale`` 1."""
    rng = rng or random.Random(0)
    c = _Canvas(scale)
    img = _background(c, rng, back=True, design=design)
    draw = ImageDraw.Draw(img)
    dx, dy = _shift(design, rng)

    def at(x_mm: float, y_mm: float) -> tuple[int, int]:
        return c.mm(x_mm + dx), c.mm(y_mm + dy)

    _emblem(draw, c, (6.0, 5.0, 21.0, 20.0))
    tf = title_font or font
    txt, lab = design.text_color, design.label_color
    _text(draw, at(29.0, 7.0), "中华人民共和国", tf.get(c.mm(4.4)), txt, spacing=c.mm(1.6))
    _text(draw, at(27.0, 14.5), "居民身份证", tf.get(c.mm(7.0)), txt, spacing=c.mm(2.0))
    label = font.get(c.mm(3.0))
    value = font.get(c.mm(design.value_size_mm - 0.1))
    vs = c.mm(design.value_spacing_mm)
    ls = c.mm(design.label_spacing_mm * 0.4)
    _text(draw, at(16.0, 38.0), "签发机关", label, lab, spacing=ls)
    # A long authority (黔西南布依族苗族自治州公安局) is printed condensed, never past the card's edge:
    # the letter spacing goes first, then the size (seed 2051 serif card 122 ran its 局 off the card).
    room = c.mm(CARD_MM[0] - 2.5) - at(34.0, 37.6)[0]
    auth_spacing, auth_font = vs, value
    while _width(draw, identity.authority, auth_font, auth_spacing) > room:
        if auth_spacing > 0:
            auth_spacing = max(0, auth_spacing - 1)
        else:
            auth_font = font.get(int(auth_font.size) - 1)
    _text(draw, at(34.0, 37.6), identity.authority, auth_font, txt, spacing=auth_spacing)
    _text(draw, at(16.0, 45.0), "有效期限", label, lab, spacing=ls)
    start = f"{identity.valid_from:%Y.%m.%d}"
    end = f"{identity.valid_to:%Y.%m.%d}" if identity.valid_to else "长期"
    _text(draw, at(34.0, 44.6), f"{start}-{end}", value, txt, spacing=vs)
    return _rounded_card(img, c)
