"""Fields of either card side from OCR lines, using the printed labels and the card's layout.

OCR confusions are repaired only where the card itself gives independent evidence: the ID number's
check character and the birth date printed on the same side, the closed list of ethnicities, and the
fixed formats of dates. Nothing is guessed without such evidence; an unreadable field stays None.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from statistics import median

from bot.domain.hanzi import HAN_CLASS
from bot.verification.idcard.authority import simplify_authority
from bot.verification.idcard.colour import InkModel, char_inks, learn_inks, strip_label_ink
from bot.verification.idcard.fields import ETHNICITIES, BackFields, FrontFields, Side
from bot.verification.idcard.ocr import (
    OcrLine,
    OcrPage,
    fuse_readings,
    rank_candidates,
    read_part,
    read_region,
)
from bot.verification.ids import resident_id_check_char
from bot.verification.regions import RegionChooser, correct_region_prefix, is_known_region

__all__ = ["Row", "detect_side", "group_rows", "parse_back", "parse_front"]


@dataclass
class Row:
    lines: list[OcrLine]

    @property
    def text(self) -> str:
        ordered = sorted(self.lines, key=lambda ln: ln.x0)
        parts: list[str] = []
        for prev, line in zip([None, *ordered], ordered, strict=False):
            text = line.text
            # Two detections overlapping on one character read it twice ("住址云" + "云南省...").
            if prev is not None and prev.x1 > line.x0 + 0.3 * line.height and prev.text[-1:] == text[:1]:
                text = text[1:]
            parts.append(text)
        return "".join(parts)

    @property
    def cy(self) -> float:
        return sum(line.cy for line in self.lines) / len(self.lines)

    @property
    def x0(self) -> float:
        return min(line.x0 for line in self.lines)

    @property
    def x1(self) -> float:
        return max(line.x1 for line in self.lines)


def _overlap(a: OcrLine, b: OcrLine) -> float:
    """Area shared by two line boxes, as a fraction of the smaller one."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
    return w * h / max(smaller, 1e-6)


def drop_duplicates(lines: list[OcrLine]) -> list[OcrLine]:
    """One detection per piece of print: the detector sometimes boxes a line twice (the whole line
    and a part of it, or one line at two heights). Two boxes mostly covering each other are one text;
    the one that read more characters (then the surer one) is kept, the other would repeat it."""
    kept: list[OcrLine] = []
    for line in sorted(lines, key=lambda ln: (-len(_clean(ln.text)), -ln.score)):
        if not any(_overlap(line, other) > 0.6 for other in kept):
            kept.append(line)
    ids = {id(ln) for ln in kept}
    return [ln for ln in lines if id(ln) in ids]


def group_rows(lines: list[OcrLine]) -> list[Row]:
    """Lines whose vertical centres are within half a text height form one row, top to bottom."""
    lines = drop_duplicates(lines)
    if not lines:
        return []
    h = median(line.height for line in lines) or 1.0
    rows: list[Row] = []
    for line in sorted(lines, key=lambda ln: ln.cy):
        if rows and abs(line.cy - rows[-1].cy) < 0.5 * h:
            rows[-1].lines.append(line)
        else:
            rows.append(Row([line]))
    return rows


def _clean(text: str) -> str:
    return re.sub(r"[\s:：,，、'\"“”‘’`]", "", text)


# --- side detection -----------------------------------------------------------------------------------

_FRONT_MARKS = ("姓名", "性别", "民族", "出生", "住址", "公民身份号码", "身份号码")
_BACK_MARKS = ("中华人民共和国", "居民身份证", "签发机关", "有效期限", "长期")
_DIGITS_18 = re.compile(r"\d{17}[\dXx]")
_DATE_RANGE = re.compile(r"\d{4}\.?\d{2}\.?\d{2}-")


def _side_scores(lines: list[OcrLine]) -> tuple[int, int]:
    text = _clean("".join(line.text for line in lines))
    front = sum(mark in text for mark in _FRONT_MARKS) + 2 * bool(_DIGITS_18.search(text))
    back = sum(mark in text for mark in _BACK_MARKS) + 2 * bool(_DATE_RANGE.search(text))
    return front, back


def detect_side(lines: list[OcrLine]) -> Side | None:
    """By content: labels of each side plus the ID number or the validity period."""
    front, back = _side_scores(lines)
    if max(front, back) < 2:
        return None
    return "front" if front > back else "back"


def partly_read(lines: list[OcrLine]) -> bool:
    """Some of a card's print was read (a label), too little to tell the side: a card photographed
    too poorly for the recogniser, as opposed to a photo with no card text at all."""
    return max(_side_scores(lines)) == 1


# --- ID number ----------------------------------------------------------------------------------------

# Characters the recogniser produces for digits in OCR-B-like print.
_DIGIT_LOOKALIKES = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1", "!": "1", "Z": "2",
     "z": "2", "S": "5", "s": "5", "B": "8", "G": "6", "b": "6", "q": "9", "g": "9", "x": "X", "×": "X"}
)  # fmt: skip
# When a read number fails its check, these are the digit pairs worth trying (visually close glyphs).
_CONFUSABLE = {
    "0": "689", "1": "74", "2": "7", "3": "859", "4": "1", "5": "63", "6": "085", "7": "12",
    "8": "0369", "9": "083", "X": "",
}  # fmt: skip


def _number_candidates(rows: list[Row]) -> list[tuple[str, float, Row]]:
    found: list[tuple[str, float, Row]] = []
    for row in rows:
        raw = " ".join(line.text for line in sorted(row.lines, key=lambda ln: ln.x0))
        raw = re.sub(r"^.*?(号码|号|码)", "", raw) if re.search(r"号码|身份", raw) else raw
        mapped = raw.translate(_DIGIT_LOOKALIKES)
        score = min(line.score for line in row.lines)
        for m in re.finditer(r"[\dX][\dX ]{14,24}", mapped):
            run = m.group().strip()
            # A stray mark separated by a space ("4 3309...") is not part of the number.
            pieces = [p for p in run.split() if len(p) == 18]
            found.append((pieces[0] if pieces else run.replace(" ", ""), score, row))
    return found


def _number_right_of_label(page: OcrPage | None, row: Row) -> list[tuple[str, float, Row]]:
    """The number read where it is printed: right of its label, 18 digits (about 11 text heights)."""
    if page is None:
        return []
    label = next((ln for ln in row.lines if "号码" in ln.text), None)
    if label is None or not _clean(label.text).endswith("号码"):
        return []
    h = label.height
    # As far as 18 digits reach; a box past the photo's edge is shortened by read_region.
    found = read_region(
        page, (label.x1 + 0.1 * h, label.y0 - 0.3 * h, label.x1 + 14 * h, label.y1 + 0.3 * h), clip_right=True
    )
    return _number_candidates([Row([found])]) if found is not None else []


def _reach(line: OcrLine, counted: Callable[[str], bool], total: int) -> float | None:
    """Where ``total`` characters (those ``counted``) would end on ``line`` at the pitch of the ones
    read, one pitch of margin included; None when fewer than two were read or all ``total`` were."""
    if len(line.char_x) != len(line.text):
        return None
    xs = [x for ch, x in zip(line.text, line.char_x, strict=True) if counted(ch)]
    if not 2 <= len(xs) < total:
        return None
    width = line.x1 - line.x0
    pitch = (xs[-1] - xs[0]) * width / (len(xs) - 1)
    return line.x0 + xs[-1] * width + (total - len(xs) + 1) * pitch


def _number_read_on(page: OcrPage | None, row: Row) -> list[tuple[str, float, Row]]:
    """The number's line read again from its start to past where its 18 characters end: two text
    heights past its box, or further when the digits read and their pitch say the box stopped
    several characters short (seed 2071 serif card 191: 14 of 18 digits boxed)."""
    if page is None:
        return []
    line = max(row.lines, key=lambda ln: sum(ch.isdigit() for ch in ln.text))
    h = line.height
    x1 = max(line.x1 + 2 * h, _reach(line, str.isdigit, 18) or 0.0)
    box = (line.x0 - 0.1 * h, line.y0 - 0.15 * h, x1, line.y1 + 0.15 * h)
    found = read_region(page, box, clip_right=True)
    return _number_candidates([Row([found])]) if found is not None else []


def _birth_from_number(n: str) -> date | None:
    try:
        return date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return None


def repair_number(raw: str, printed_birth: date | None) -> str | None:
    """An 18-character number from a read run, repaired when one character was misread.

    A repair is accepted only when exactly one single-character change among visually close glyphs
    makes the check character, the region and the printed birth date all agree.
    """
    if not 17 <= len(raw) <= 19:
        return None

    def consistent(n: str) -> bool:
        if "X" in n[:17] or resident_id_check_char(n[:17]) != n[17]:
            return False
        if not is_known_region(n[:6]):
            return False
        born = _birth_from_number(n)
        return born is not None and (printed_birth is None or born == printed_birth)

    if len(raw) == 18 and consistent(raw):
        return raw
    fixes: set[str] = set()
    if len(raw) == 19:  # a stray or doubled character
        fixes = {n for i in range(19) if consistent(n := raw[:i] + raw[i + 1 :])}
        return fixes.pop() if len(fixes) == 1 else None
    if len(raw) == 17:  # a dropped character
        fixes = {n for i in range(18) for alt in "0123456789X" if consistent(n := raw[:i] + alt + raw[i:])}
        return fixes.pop() if len(fixes) == 1 else None
    for i, ch in enumerate(raw):
        options = "0123456789X" if i == 17 else _CONFUSABLE.get(ch, "")
        for alt in options:
            if alt == ch:
                continue
            n = raw[:i] + alt + raw[i + 1 :]
            if consistent(n):
                fixes.add(n)
    if len(fixes) == 1:
        return fixes.pop()
    return raw  # unrepaired: the checks will report the checksum problem


# --- front --------------------------------------------------------------------------------------------

_BIRTH_RE = re.compile(r"(\d{4})\D{0,2}?(\d{1,2})\D{1,2}?(\d{1,2})")
_CJK = re.compile(r"[\u4e00-\u9fff·]+")


def _after(text: str, labels: tuple[str, ...]) -> str | None:
    for label in labels:
        idx = text.find(label)
        if idx >= 0:
            return text[idx + len(label) :]
    return None


def _parse_birth(text: str) -> date | None:
    t = _clean(text).translate(_DIGIT_LOOKALIKES)
    t = re.sub(r"^.*?生", "", t)
    m = re.search(r"(\d{4})年?(\d{1,2})月?(\d{1,2})日?", t)
    if m is None:
        m = _BIRTH_RE.search(t)
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _match_ethnicity(text: str) -> str | None:
    t = "".join(_CJK.findall(text)).removesuffix("族")
    if not t:
        return None
    if t in ETHNICITIES:
        return t
    close = difflib.get_close_matches(t, ETHNICITIES, n=2, cutoff=0.5)
    # Accept only an unambiguous nearest name (e.g. 维吾儿 → 维吾尔).
    if len(close) == 1 or (len(close) > 1 and difflib.SequenceMatcher(None, t, close[0]).ratio() >= 0.75):
        return close[0]
    return None


# How much less likely than the free reading a list value may be and still be taken (natural log).
# Measured: a misread listed name scores 2-7 below the free reading, a genuinely unlisted one 30+.
_CLOSED_LIST_MARGIN = 10.0
_CLOSED_LIST_TIE = 3.0


def _closed_list_choice(
    line: OcrLine, free: str, readings: dict[str, str], *, margin: float = _CLOSED_LIST_MARGIN
) -> str | None:
    """The key of the one reading of ``line`` (of ``readings``, a closed list's values each written
    into the line) that is clearly likelier than every other (by ``_CLOSED_LIST_TIE``) and at most
    ``margin`` less likely than the ``free`` reading; None when no such reading stands out."""
    scores = {text: score for score, text in rank_candidates(line, [*readings.values(), free])}
    if not scores or len(readings) < 2:
        return None
    best, second = sorted(readings, key=lambda key: scores[readings[key]], reverse=True)[:2]
    clear = scores[readings[best]] - scores[readings[second]] > _CLOSED_LIST_TIE
    return best if clear and scores[readings[best]] >= scores[free] - margin else None


def _read_ethnicity(row: Row, *, labelled: bool = True) -> str | None:
    """The ethnicity, read against the closed list of 56 names.

    The free reading is tried first; when it is not a listed name, the line's crop is re-scored
    with each name in place of the free value (CTC likelihood) and the best one is taken if it is
    nearly as likely as the free reading itself: that repairs a rare character read as a common
    look-alike (畲 → 备) without inventing a value for an unreadable or non-listed one.
    """
    lines = sorted(row.lines, key=lambda ln: ln.x0)
    text = _clean(row.text)
    free = _after(text, ("民族", "族")) if labelled else text.split("族")[-1]
    if free is None:
        free = text.split("男")[-1].split("女")[-1].lstrip("民")
    direct = _match_ethnicity(free) if free in ETHNICITIES else None
    if direct is not None:
        return direct
    if not free and labelled:
        # Only the label was read: the value's crop is elsewhere (or was not detected at all).
        return None
    # The line that carries the value: the one with 族, else the rightmost one.
    line = next((ln for ln in lines if "族" in ln.text), lines[-1])
    raw = re.sub(r"\s", "", line.text)
    idx = raw.find("族")
    prefix = raw[: idx + 1] if idx >= 0 else ""
    # Two names about equally likely (仡佬 / 仫佬, whose 仫 the recogniser lacks) are left to the
    # user rather than one picked; with nothing read at all, a name must be far likelier than an
    # empty crop.
    margin = _CLOSED_LIST_MARGIN if raw else -_CLOSED_LIST_MARGIN
    chosen = _closed_list_choice(line, raw, {e: prefix + e for e in ETHNICITIES}, margin=margin)
    if chosen is not None:
        return chosen
    # Not a listed name: keep what is printed, for the checks to report it as unknown.
    return _match_ethnicity(free) or ("".join(_CJK.findall(free)).removesuffix("族") or None)


def _region_by_pixels(lines: list[OcrLine]) -> RegionChooser:
    """Chooses between division names equally near in GB/T 2260 (黔县: 黟县 or 歙县) by re-scoring
    the line that holds the misread prefix with each name in its place, as ethnicities are read:
    a name is taken only when it is clearly likelier than the others and nearly as likely as the
    free reading (seed 2051 template card 22: 黟 −3.2, 歙 −17.2, as read −0.6)."""

    def choose(repairs: Sequence[tuple[str, str]]) -> str | None:
        for line in lines:
            raw = re.sub(r"\s", "", line.text)
            if not all(read in raw for read, _name in repairs):
                continue
            readings = {name: raw.replace(read, name, 1) for read, name in repairs}
            return _closed_list_choice(line, raw, readings)
        return None

    return choose


class _Inks:
    """The photo's label and value inks, learnt on first use (most cards never need them)."""

    def __init__(self, lines: list[OcrLine]) -> None:
        self._lines = lines
        self._model: InkModel | None = None
        self._learnt = False

    def model(self) -> InkModel | None:
        if not self._learnt:
            self._model, self._learnt = learn_inks(self._lines), True
        return self._model

    def after_label(self, row: Row, max_chars: int) -> str | None:
        """The row's text after the label-ink characters it starts with (a label OCR misread, such as
        "姓各"), or None when colour cannot tell."""
        if not self._learnt:
            self._model, self._learnt = learn_inks(self._lines), True
        first, *rest = sorted(row.lines, key=lambda ln: ln.x0)
        value = strip_label_ink(first, self._model, max_chars=max_chars)
        if value is None:
            return None
        return _clean(value + "".join(ln.text for ln in rest))


def _find_row(rows: list[Row], labels: tuple[str, ...]) -> int | None:
    """First row holding the first label found, trying the labels in order (full label first, then
    the single characters that survive a partial misreading)."""
    texts = [_clean(row.text) for row in rows]
    for label in labels:
        for i, text in enumerate(texts):
            if label in text:
                return i
    return None


def _value_right_of(
    page: OcrPage | None, rows: list[Row], label: str, *, min_score: float = 0.5
) -> OcrLine | None:
    """Re-read the place right of ``label`` (a short value the detector missed, or one inside the
    label's box that the recogniser dropped)."""
    if page is None:
        return None
    for row in rows:
        for line in row.lines:
            text = _clean(line.text)
            if text.endswith(label):
                h = line.height
                # Where the label starts in a box that may hold more ("性别女民族"), and whether the
                # box runs past the label (two spaced characters: ~2.7 heights) over the value.
                label_x = line.x0 + (line.x1 - line.x0) * (len(text) - len(label)) / max(len(text), 1)
                start = label_x + 2.6 * h if line.x1 - label_x > 3.6 * h else line.x1 + 0.1 * h
                box = (start, line.y0 - 0.25 * h, start + 3.6 * h, line.y1 + 0.25 * h)
                return read_region(page, box, min_score=min_score)
    return None


def _read_left_part(page: OcrPage | None, name_row: Row, cy: float) -> OcrLine | None:
    """Read the label column's first ~5 characters at height ``cy`` (where 性别 and its value are)."""
    if page is None:
        return None
    h = min(ln.height for ln in name_row.lines)
    x0 = name_row.x0
    return read_region(page, (x0 - 0.3 * h, cy - 0.6 * h, x0 + 5.5 * h, cy + 0.6 * h))


def _read_address_tail(
    page: OcrPage | None, used: list[Row], number_row: Row, others: list[OcrLine]
) -> str | None:
    """A last address line of one or two characters (``号``) is often missed by the detector: when
    there is room for another line above the number, read where it would be — unless something was
    detected there (``others``: lines not taken as address), which re-reading would only repeat."""
    if page is None or len(used) < 2:
        return None
    last = used[-1]
    h = median(ln.height for row in used for ln in row.lines)
    pitch = (last.cy - used[0].cy) / (len(used) - 1)
    cy = last.cy + pitch
    # Room for another line: it would end half a pitch below its centre, above the number's box. (Not
    # by box heights: a tight design's boxes overlap, 52 px boxes at a 45 px pitch on seed 2061 serif
    # card 30, whose 号 was then never looked for.)
    if cy + 0.5 * pitch > min(ln.y0 for ln in number_row.lines):
        return None
    x0 = min(ln.x0 for ln in last.lines)
    box = (x0 - 0.3 * h, cy - 0.6 * h, x0 + 4.5 * h, cy + 0.6 * h)
    if any(ln.x0 < box[2] and ln.x1 > box[0] and ln.y0 < box[3] and ln.y1 > box[1] for ln in others):
        return None
    found = read_region(page, box)
    if found is None or found.score < 0.85:
        return None
    text = _clean(found.text)
    # Background strokes read as 一 or punctuation; an address tail has a real character.
    return text if re.search(r"[\u4e00-\u9fff\d]", text) and text.strip("一") else None


# A name character is in doubt when the recogniser's second class there has at least this share of
# the first one's probability (measured on the bench's cards, see bench/RESULTS-idcard.md): a rare
# character read as its common look-alike (赟 → 赞, 嫱 → 嫡) leaves such a second class.
_NAME_DOUBT_RATIO = 0.02


def name_uncertain(row: Row, name: str) -> bool:
    """Whether a character of ``name`` (as read from ``row``) was read with a close second class.

    The card gives no second witness for a name (unlike the number's checksum or the closed list of
    ethnicities), so a doubtful name is never guessed (only read again from its own pixels, see
    :func:`name_read_alone`): it is flagged for the user to check (and type, which accepts any
    GB 18030 character)."""
    chars: list[tuple[str, tuple[tuple[str, float], ...]]] = []
    for line in sorted(row.lines, key=lambda ln: ln.x0):
        line_alts = line.char_alts if len(line.char_alts) == len(line.text) else ((),) * len(line.text)
        chars += [(ch, alt) for ch, alt in zip(line.text, line_alts, strict=True) if not ch.isspace()]
    text = "".join(ch for ch, _ in chars)
    at = text.rfind(name)
    if at < 0:
        return False
    for _ch, alts in chars[at : at + len(name)]:
        if len(alts) >= 2 and alts[0][1] > 0 and alts[1][1] >= _NAME_DOUBT_RATIO * alts[0][1]:
            return True
    return False


def name_read_alone(row: Row, name: str) -> OcrLine | None:
    """A doubtful name that shares its box with the label, read again without the label.

    The recogniser reads a line in context, and a label before a rare given-name character pulls it
    to a common look-alike (姓名赵赟 → 赵赞). The name's part of the box, read alone, is a second
    reading of the same pixels; the two are averaged character by character (both kept: on the
    bench's cards neither alone was right as often as the two together, see bench/RESULTS-idcard.md).
    Returns the name so read as a line of its own, or None where there is nothing to re-read: a
    name in a box of its own, or a second reading of another length. Called for a doubtful name only
    (one more recogniser run)."""
    for line in row.lines:
        if len(line.char_x) != len(line.text) or len(line.char_alts) != len(line.text):
            continue
        # Where the recogniser put spaces ("姓名 赵 赟") they are no part of the name.
        seen = [i for i, ch in enumerate(line.text) if not ch.isspace()]
        at = "".join(line.text[i] for i in seen).rfind(name)
        if at <= 0:
            continue
        alone = read_part(line, (line.char_x[seen[at - 1]] + line.char_x[seen[at]]) / 2)
        if alone is None or len(alone.char_alts) != len(alone.text):
            return None
        chars = [(ch, alt) for ch, alt in zip(alone.text, alone.char_alts, strict=True) if not ch.isspace()]
        if len(chars) != len(name):
            return None
        before = [line.char_alts[i] for i in seen[at : at + len(name)]]
        if not all(before) or not all(alt for _ch, alt in chars):
            return None  # a character without its classes: nothing to average
        fused, alts = fuse_readings(before, [alt for _ch, alt in chars])
        return replace(alone, text=fused, char_alts=alts, char_x=())
    return None


# What an address is printed with: Han characters, digits, Latin letters and a few signs. Anything
# else read inside one (•, _, è, |) is a mark of the background.
_ADDRESS_CHAR = re.compile(f"[{HAN_CLASS}0-9A-Za-z\\-－#()（）·\\s]")
# Simple strokes the guilloche imitates (一, a digit, a Latin letter): dropped when read this unsure
# and not in the value ink (measured on the bench's strays: see bench/RESULTS-idcard.md).
_STRAY_MAX_PROB = 0.6
_STROKE_LIKE = re.compile(r"[一0-9A-Za-z]")


def _is_stray(ch: str, prob: float | None, ink_is_value: bool | None) -> bool:
    if not _ADDRESS_CHAR.fullmatch(ch):
        return True
    if not _STROKE_LIKE.fullmatch(ch) or prob is None:
        return False
    return prob < _STRAY_MAX_PROB and ink_is_value is not True


# How far right of the end of an address line (in its text heights) a box may start and still be
# part of it: a detector cuts a line at a space or a wide letter spacing (well under one height).
_ADDRESS_MAX_GAP = 2.0


def _one_line_run(lines: list[OcrLine]) -> list[OcrLine]:
    """Of a row's boxes cut into runs at wide gaps, the run that holds the most characters (the
    printed line; what stands apart left or right of it is a mark)."""
    runs: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: ln.x0):
        if runs and line.x0 - runs[-1][-1].x1 <= _ADDRESS_MAX_GAP * (runs[-1][-1].height or 1.0):
            runs[-1].append(line)
        else:
            runs.append([line])
    # Most characters first; between runs as long, the one read more surely (a mark reads unsure).
    return max(
        runs,
        key=lambda run: (sum(len(_clean(ln.text)) for ln in run), min(ln.score for ln in run)),
        default=[],
    )


def _address_row(row: Row, inks: _Inks) -> Row:
    """The row with the characters that are marks of the card's background removed: characters an
    address is never printed with, and stroke-like ones (一, a digit) read with low confidence whose
    ink is not the value ink. A real character, even alone on a wrapped line, is read surely and in
    the value ink, so it stays. A box well apart from the line it would continue (a stroke of the
    portrait or the guilloche read as "1") is not address either: a printed line has no wide gap."""
    out: list[OcrLine] = []
    for line in _one_line_run(row.lines):
        probs = [alt[0][1] if alt else None for alt in line.char_alts]
        if len(probs) != len(line.text):
            probs = [None] * len(line.text)
        if all(_ADDRESS_CHAR.fullmatch(ch) for ch in line.text) and all(
            p is None or p >= _STRAY_MAX_PROB for p in probs
        ):
            out.append(line)
            continue
        model = inks.model()
        line_inks = char_inks(line) if model is not None else [None] * len(line.text)
        keep = [
            not _is_stray(ch, p, None if model is None or ink is None else not model.is_label(ink))
            for ch, p, ink in zip(line.text, probs, line_inks, strict=True)
        ]
        if all(keep):
            out.append(line)
            continue
        if not any(keep):
            continue
        out.append(
            replace(
                line,
                text="".join(ch for ch, k in zip(line.text, keep, strict=True) if k),
                char_x=tuple(x for x, k in zip(line.char_x, keep, strict=False) if k)
                if len(line.char_x) == len(keep)
                else (),
                char_alts=tuple(a for a, k in zip(line.char_alts, keep, strict=False) if k)
                if len(line.char_alts) == len(keep)
                else (),
            )
        )
    return Row(out) if out else row


def parse_front(
    lines: list[OcrLine], page: OcrPage | None = None, *, corrections: list[str] | None = None
) -> FrontFields:
    """Fields of the portrait side; ``page`` enables re-reading a value the detector missed.
    ``corrections`` receives the codes of values taken from the ID number (see :func:`reconcile`)."""
    rows = group_rows(lines)
    inks = _Inks(lines)
    f = FrontFields()
    i_name = _find_row(rows, ("姓名", "姓", "名"))
    i_sex = _find_row(rows, ("性别", "性"))
    i_eth = _find_row(rows, ("民族", "族"))
    i_birth = _find_row(rows, ("出生",))
    i_addr = _find_row(rows, ("住址", "住", "址"))
    numbers = _number_candidates(rows)
    i_number = rows.index(numbers[-1][2]) if numbers else _find_row(rows, ("公民身份号码", "身份号码"))
    if not numbers and i_number is not None:
        # The detector boxed the label but not the number (seed 2041 serif card 17): read its place;
        # or boxed too few of its digits to be taken for one (seed 2071 serif card 191: 14): read on.
        numbers = _number_right_of_label(page, rows[i_number]) or _number_read_on(page, rows[i_number])

    if i_birth is None:
        i_birth = next((i for i, row in enumerate(rows) if _parse_birth(row.text) and "年" in row.text), None)
    if i_birth is not None:
        f.birth_date = _parse_birth(rows[i_birth].text)
    if i_name is None and i_sex is not None and i_sex > 0:
        i_name = i_sex - 1
    if i_name is not None:
        text = _clean(rows[i_name].text)
        rest = _after(text, ("姓名", "名")) if ("姓名" in text or text.startswith("名")) else None
        if rest is None:
            # The label was misread ("姓各张三"): its ink tells where it ends; else take it all.
            rest = inks.after_label(rows[i_name], 3) if i_name != i_sex else None
            rest = text if rest is None else rest
        # Latin letters are kept so that a non-Chinese name is reported as such, not as missing.
        name = "".join(re.findall(r"[\u4e00-\u9fff·A-Za-z]+", rest or ""))
        # A guilloche stroke before the name reads as 一 (a surname too rare to outweigh that).
        if name.startswith("一") and len(name) >= 3:
            name = name[1:]
        f.name = name or None
        doubtful = f.name is not None and name_uncertain(rows[i_name], f.name)
        if f.name and doubtful and (alone := name_read_alone(rows[i_name], f.name)) is not None:
            f.name = alone.text
            doubtful = name_uncertain(Row([alone]), f.name)
        if doubtful and corrections is not None:
            from bot.verification.idcard.validate import IdCardReason

            corrections.append(str(IdCardReason.NAME_UNCERTAIN))
    if i_sex is not None:
        text = _clean(rows[i_sex].text)
        f.sex = "男" if "男" in text else "女" if "女" in text else None
    if f.sex is None:
        sex_line = _value_right_of(page, rows, "性别")
        sex_value = _clean(sex_line.text) if sex_line else ""
        if not sex_value and i_name is not None:
            # The detector missed the 性别 label and value: read the left part of that row where
            # the layout puts it (the 民族 row, else midway between 姓名 and 出生).
            row_cy = rows[i_eth].cy if i_eth is not None else None
            if row_cy is None and i_birth is not None:
                row_cy = (rows[i_name].cy + rows[i_birth].cy) / 2
            found = _read_left_part(page, rows[i_name], row_cy) if row_cy is not None else None
            sex_value = _clean(found.text) if found else ""
        f.sex = "男" if "男" in sex_value else "女" if "女" in sex_value else None
    i_eth = i_eth if i_eth is not None else i_sex
    if i_eth is not None:
        f.ethnicity = _read_ethnicity(rows[i_eth])
        # Even an empty reading is kept: its crop is ranked against the 56 names.
        if f.ethnicity is None and (eth_line := _value_right_of(page, rows, "民族", min_score=0.0)):
            f.ethnicity = _read_ethnicity(Row([eth_line]), labelled=False)
    if i_addr is None and i_birth is not None and i_number is not None and i_birth + 1 < i_number:
        i_addr = i_birth + 1  # the 住址 label was missed: the address is what follows the birth row
    if i_addr is not None:
        end = i_number if i_number is not None and i_number > i_addr else len(rows)
        # Marks of the background read between characters are dropped first (see _address_row).
        addr_rows = {i: _address_row(rows[i], inks) for i in range(i_addr, end)}
        first = addr_rows[i_addr]
        rest = _after(_clean(first.text), ("住址", "址"))
        if rest is None:
            rest = inks.after_label(first, 3)
        parts = [rest if rest is not None else _clean(first.text)]
        used = [first] if parts[0] else []  # the label may stand alone on its row
        for row in (addr_rows[i] for i in range(i_addr + 1, end)):
            text = _clean(row.text)
            # Continuation lines start under the first line's value, about 3 character heights right
            # of the label; anything read in the portrait (14 heights right) is not address.
            if text and row.x0 < first.x0 + 6 * (row.lines[0].height or 1):
                parts.append(text)
                used.append(row)
        if len(used) < 3 and i_number is not None and i_number > i_addr:
            others = [
                ln for i in range(i_addr + 1, i_number) if addr_rows[i] not in used for ln in rows[i].lines
            ]
            tail = _read_address_tail(page, used, rows[i_number], others)
            if tail:
                parts.append(tail)
        # A stray mark read from the label's edge ("L", "|") is not part of the address.
        read = re.sub(r"^[^\u4e00-\u9fff]+", "", "".join(parts))
        # Printed in simplified characters: a traditional form is the recogniser's (681號, serif faces).
        simplified = simplify_authority(read)
        if simplified != read and corrections is not None:
            from bot.verification.idcard.validate import IdCardReason

            corrections.append(str(IdCardReason.ADDRESS_SIMPLIFIED))
        region_lines = [ln for i in range(i_addr, end) for ln in rows[i].lines]
        address = correct_region_prefix(simplified, _region_by_pixels(region_lines))
        f.address = address or None
    if numbers:
        raw, _score, number_row = numbers[-1]
        f.id_number = repair_number(raw, f.birth_date)
        if f.id_number is None:
            # Not repairable as read: the detector may have stopped short of the number's end (seed
            # 2051 serif card 69 read 17 digits), or boxed its end again apart, overlapping (seed 2071
            # serif card 191, Telegram copy: "…12177" and "77696", 20 digits); read the line on past
            # its box, as one.
            f.id_number = next(
                (
                    n
                    for cand, _s, _r in _number_read_on(page, number_row)
                    if (n := repair_number(cand, f.birth_date))
                ),
                None,
            )
    taken = reconcile(f)
    if corrections is not None:
        corrections.extend(taken)
    return f


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


# How many digits of the printed date (year, month and day as printed, 7-8 digits) OCR may have
# garbled for the number to explain it: a dropped, doubled, swapped or misread digit or two ("9583"
# for 1958).
_MAX_DATE_EDITS = 2


def _plausible_birth(d: date) -> bool:
    return 1880 <= d.year <= 2100


def reconcile(f: FrontFields) -> list[str]:
    """Cross-field reconciliation: when the ID number passes its checksum (and its region and date are
    valid), its birth date and sex are the truth for what OCR could not read.

    Taken from the number (each change returned as a reason code): a date or sex not read at all, and
    a printed date that is no plausible date ("9583年8月28日") within two digit edits of the number's.
    A well-formed printed date that differs stays a disagreement for the checks to report: a digit
    misread in the number can pass the checksum (1 in 11), and then the print is the better witness.
    """
    from bot.verification.idcard.validate import IdCardReason
    from bot.verification.ids import parse_resident_id

    n = f.id_number
    if not n or len(n) != 18 or "X" in n[:17] or resident_id_check_char(n[:17]) != n[17]:
        return []
    if not is_known_region(n[:6]):
        return []
    info = parse_resident_id(n)
    if info is None:
        return []
    codes: list[str] = []
    truth = info.birth_date
    if f.birth_date is None:
        f.birth_date = truth
        codes.append(str(IdCardReason.BIRTH_DATE_FROM_NUMBER))
    elif f.birth_date != truth and not _plausible_birth(f.birth_date):
        printed = f"{f.birth_date.year}{f.birth_date.month}{f.birth_date.day}"
        if _edit_distance(printed, f"{truth.year}{truth.month}{truth.day}") <= _MAX_DATE_EDITS:
            f.birth_date = truth
            codes.append(str(IdCardReason.BIRTH_DATE_CORRECTED))
    if f.sex is None:
        f.sex = info.sex
        codes.append(str(IdCardReason.SEX_FROM_NUMBER))
    return codes


# --- back ---------------------------------------------------------------------------------------------

_FULL_PERIOD = "2019.01.16-2039.01.16"
_PERIOD_RE = re.compile(r"(\d{4})\.?(\d{2})\.?(\d{2})[^\d长]*(?:(\d{4})\.?(\d{2})\.?(\d{2})|(长期))")


def _date(y: str, m: str, d: str) -> date | None:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        return None


def _period_match(text: str) -> re.Match[str] | None:
    text = _clean(text).translate(_DIGIT_LOOKALIKES)
    text = text.replace("一", "-").replace("—", "-").replace("~", "-").replace("至", "-")
    text = text.replace("长朝", "长期").replace("长明", "长期")
    return _PERIOD_RE.search(text)


_PERIOD_LABEL = re.compile(r"有效期限|有效|期限|效期")


def _label_end_x(line: OcrLine, end: int) -> float:
    """Where in the upright frame the character ``end - 1`` of ``line.text`` ends."""
    if end >= len(line.text):
        return line.x1
    width = line.x1 - line.x0
    if len(line.char_x) == len(line.text):
        # Halfway between the last label character and the first value character.
        return line.x0 + width * (line.char_x[end - 1] + line.char_x[end]) / 2
    return line.x0 + width * end / max(len(line.text), 1)


# How far right of its label a whole period ("2007.05.26-2027.05.26", spaced out on some designs)
# can reach, in text heights of the label.
_PERIOD_WIDTH = 16.0


def _read_period_line(rows: list[Row], i_period: int, page: OcrPage | None) -> re.Match[str] | None:
    """The validity period from the pieces the detector cut its line into.

    The spaced-out period of some designs is detected as several boxes, which may fall into
    neighbouring rows, lose a digit at a cut, or start inside the label's box ("有效期限2016.0").
    Every box at the label's height right of the label is one piece of the line: their texts are
    joined left to right, and when that is no period the whole span (from the end of the label to as
    far as a whole period reaches) is read again as one line.
    """
    label_row = rows[i_period]
    label = next((ln for ln in label_row.lines if _PERIOD_LABEL.search(ln.text)), None)
    if label is None:
        return None
    h = label.height
    found = None
    for hit in _PERIOD_LABEL.finditer(label.text):
        found = hit
    start_x = _label_end_x(label, found.end()) if found else label.x1
    in_label = label.text[found.end() :] if found else ""
    pieces = [
        ln
        for row in rows
        for ln in row.lines
        if ln is not label and abs(ln.cy - label.cy) < 0.8 * h and ln.x0 > start_x - 0.5 * h
    ]
    pieces.sort(key=lambda ln: ln.x0)
    joined = in_label + "".join(ln.text for ln in pieces)
    m = _period_match(joined)
    if m is not None or page is None:
        return m
    value_lines = pieces + ([label] if _clean(in_label) else [])
    x0 = start_x - 0.2 * h
    if not value_lines:
        # Nothing boxed right of the label (thin serif digits lost at the detector's scale): the place
        # where the period is printed is read as one line, as for a number missed right of its label.
        box = (x0, label.y0 - 0.3 * h, start_x + _PERIOD_WIDTH * h, label.y1 + 0.3 * h)
        reread = read_region(page, box, clip_right=True)
        m = _period_match(reread.text) if reread else None
        if reread is None or m is not None:
            return m
        # Short of a whole period (seed 2071 serif card 173: "2011.11.27-2021.11.2", its last 7 lost in
        # the wide box's background): read again, ending where the period ends at the read pitch.
        end = _reach(reread, lambda ch: not ch.isspace(), len(_FULL_PERIOD))
        if end is None or end >= reread.x1:
            return None
        again = read_region(page, (x0, box[1], end, box[3]), clip_right=True)
        return _period_match(again.text) if again else None
    top, bottom = min(ln.y0 for ln in [label, *pieces]), max(ln.y1 for ln in [label, *pieces])
    # The margin stops at the lines above and below: the authority's last line, 5 px into the box,
    # cost the period its ".11." (seed 2071 serif card 173, Telegram copy).
    others = [ln for row in rows for ln in row.lines if ln is not label and ln not in pieces]
    above = max((ln.y1 for ln in others if ln.cy < top), default=-math.inf)
    below = min((ln.y0 for ln in others if ln.cy > bottom), default=math.inf)
    y0 = max(top - 0.15 * h, min(above, top))
    y1 = min(bottom + 0.15 * h, max(below, bottom))
    x1 = max(ln.x1 for ln in value_lines) + 0.3 * h
    # The detector may stop short of the end ("2019.01.16-2039."): read as far as a whole period
    # would reach at the pitch of what was read.
    read = len(_clean(joined))
    if 0 < read < len(_FULL_PERIOD):
        x1 = max(x1, x0 + (x1 - x0) * (len(_FULL_PERIOD) + 1) / read)
    reread = read_region(page, (x0, y0, x1, y1), clip_right=True)
    return _period_match(reread.text) if reread else None


def _auth_row_by_ink(rows: list[Row], i_period: int | None, inks: _Inks) -> int | None:
    if i_period is None or i_period == 0:
        return None
    i = i_period - 1
    value = inks.after_label(rows[i], 4)
    return i if value else None


def _authority(row: Row, text: str, corrections: list[str] | None) -> str | None:
    """The authority from its row's characters (``text``, the label taken off): traditional forms
    mapped (reported), then a misread division name repaired against GB/T 2260 and the row's
    pixels."""
    raw = "".join(_CJK.findall(text))
    simplified = simplify_authority(raw)
    if simplified != raw and corrections is not None:
        from bot.verification.idcard.validate import IdCardReason

        corrections.append(str(IdCardReason.AUTHORITY_SIMPLIFIED))
    return correct_region_prefix(simplified, _region_by_pixels(row.lines)) or None


def parse_back(
    lines: list[OcrLine], page: OcrPage | None = None, *, corrections: list[str] | None = None
) -> BackFields:
    """Fields of the emblem side; ``page`` enables re-reading a validity line split by the detector.
    ``corrections`` receives the codes of values the engine changed from what was read."""
    rows = group_rows(lines)
    inks = _Inks(lines)
    b = BackFields()
    i_auth = _find_row(rows, ("签发机关", "机关"))
    i_period = _find_row(rows, ("有效期限", "期限"))
    if i_auth is None:
        # A misread label ("签发机美"): a row starting with label ink right above the period.
        i_auth = _auth_row_by_ink(rows, i_period, inks)
    if i_auth is not None:
        rest = _after(_clean(rows[i_auth].text), ("签发机关", "机关"))
        if rest is None:
            rest = inks.after_label(rows[i_auth], 4) or ""
        b.authority = _authority(rows[i_auth], rest, corrections)
    period_rows = [rows[i_period]] if i_period is not None else []
    period_rows += [r for r in rows if r not in period_rows]
    m, period_row = next(
        ((hit, row) for row in period_rows if (hit := _period_match(row.text))), (None, None)
    )
    if b.authority is None and period_row is not None and i_auth is None:
        # The label was missed: the authority is the row right above the validity period.
        i = rows.index(period_row)
        above = _clean(rows[i - 1].text) if i > 0 else ""
        if above and not re.search(r"中华|人民共和|身份证", above):
            b.authority = _authority(rows[i - 1], above, corrections)
    if m is None and i_period is not None:
        m = _read_period_line(rows, i_period, page)
    if m is not None:
        b.valid_from = _date(m.group(1), m.group(2), m.group(3))
        if m.group(7):
            b.long_term = True
        else:
            b.valid_to = _date(m.group(4), m.group(5), m.group(6))
    return b
