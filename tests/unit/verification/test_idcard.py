"""ID card engine on committed generated photos (no font needed) and on the public synthetic cards."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFilter

from bot.verification.idcard import (
    BackFields,
    FrontFields,
    SideReading,
    read_side,
    side_problems,
    validate_back,
    validate_card,
    validate_front,
    warm_up,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "idcards"
TRUTH = json.loads((FIXTURES / "truth.json").read_text(encoding="utf-8"))
TODAY = date.fromisoformat(TRUTH["today"])
CARDS: dict[str, dict[str, Any]] = TRUTH["cards"]


@pytest.fixture(scope="session")
def ocr_warm() -> None:
    warm_up()


@pytest.fixture(scope="session")
def readings(ocr_warm: None) -> dict[tuple[str, str], SideReading]:
    """Every fixture photo read once per session."""
    out = {}
    for name, card in CARDS.items():
        for side in ("front", "back"):
            out[(name, side)] = read_side((FIXTURES / card[side]).read_bytes(), today=TODAY)
    return out


def _front_dict(f: FrontFields | None) -> dict[str, str | None]:
    assert f is not None
    d = asdict(f)
    d["birth_date"] = f.birth_date.isoformat() if f.birth_date else None
    return d


def _back_dict(b: BackFields | None) -> dict[str, str | None]:
    assert b is not None
    return {
        "authority": b.authority,
        "valid_from": b.valid_from.isoformat() if b.valid_from else None,
        "valid_to": "长期" if b.long_term else (b.valid_to.isoformat() if b.valid_to else None),
    }


@pytest.mark.parametrize("name", sorted(CARDS))
def test_fixture_cards_are_read_exactly(name: str, readings: dict[tuple[str, str], SideReading]) -> None:
    truth = CARDS[name]["fields"]
    front, back = readings[(name, "front")], readings[(name, "back")]
    assert front.side == "front" and back.side == "back"
    got = {**_front_dict(front.front), **_back_dict(back.back)}
    known = set(CARDS[name]["known_misreads"])
    assert {k: v for k, v in got.items() if k not in known} == {
        k: v for k, v in truth.items() if k not in known
    }
    for field in known:  # read, though not exactly (see truth.json)
        assert got[field]


@pytest.mark.parametrize("name", sorted(CARDS))
def test_fixture_card_problems(name: str, readings: dict[tuple[str, str], SideReading]) -> None:
    front, back = readings[(name, "front")], readings[(name, "back")]
    assert front.front is not None
    problems = set(front.problems + back.problems)
    problems |= set(validate_card(front.front, back.back, today=TODAY))
    problems.discard("idcard_portrait_no_face")  # dlib sometimes sees a face in a drawn portrait
    if CARDS[name]["known_misreads"]:
        assert set(CARDS[name]["problems"]) <= problems
    else:
        assert problems == set(CARDS[name]["problems"])


@pytest.mark.parametrize("name", sorted(CARDS))
def test_portrait_is_cropped(name: str, readings: dict[tuple[str, str], SideReading]) -> None:
    reading = readings[(name, "front")]
    assert reading.portrait_jpeg is not None
    img = Image.open(io.BytesIO(reading.portrait_jpeg))
    w, h = img.size
    # An ID photo is taller than wide (26 x 33.5 mm on the card).
    assert 1.05 < h / w < 1.6 and w >= 80
    assert readings[(name, "back")].portrait_jpeg is None


def test_readings_are_picklable(readings: dict[tuple[str, str], SideReading]) -> None:
    for reading in readings.values():
        clone = pickle.loads(pickle.dumps(reading))
        assert clone == reading
        assert all(type(p) is str for p in reading.problems)


def test_timings_are_reported(readings: dict[tuple[str, str], SideReading]) -> None:
    for reading in readings.values():
        assert {"decode", "ocr", "total"} <= set(reading.timings)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20],
)
def test_unreadable_input_is_a_reason_not_a_crash(data: bytes) -> None:
    reading = read_side(data, today=TODAY)
    assert reading.side is None and reading.front is None and reading.back is None
    assert reading.problems and reading.problems[0].startswith("image_")


def test_photo_without_a_card(ocr_warm: None) -> None:
    img = Image.new("RGB", (800, 600), (90, 120, 80))
    out = io.BytesIO()
    img.save(out, format="JPEG")
    reading = read_side(out.getvalue(), today=TODAY)
    assert reading.side is None
    assert reading.problems == ["idcard_not_found"]


def test_blurred_card_says_so(ocr_warm: None) -> None:
    img = Image.open(FIXTURES / CARDS["plain"]["front"]).filter(ImageFilter.GaussianBlur(12))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    reading = read_side(out.getvalue(), today=TODAY)
    assert reading.side is None
    assert reading.problems == ["image_too_blurry", "idcard_not_found"]


def _cropped(side: str, box_share: tuple[float, float, float, float]) -> bytes:
    img = Image.open(FIXTURES / CARDS["plain"][side])
    w, h = img.size
    x0, y0, x1, y1 = box_share
    out = io.BytesIO()
    img.crop((int(w * x0), int(h * y0), int(w * x1), int(h * y1))).save(out, format="JPEG", quality=92)
    return out.getvalue()


@pytest.mark.parametrize(
    ("side", "box", "because"),
    [
        ("back", (0.0, 0.0, 0.8, 1.0), "idcard_authority_invalid"),  # the authority's end cut off
        ("front", (0.0, 0.0, 0.75, 1.0), "idcard_portrait_not_found"),  # the portrait cut off
        ("front", (0.0, 0.0, 0.7, 1.0), "idcard_missing_id_number"),  # and the number's end
    ],
)
def test_card_past_the_photo_edge_says_so(ocr_warm: None, side: str, box: Any, because: str) -> None:
    """Text running to the photo's edge with a field unread or cut short: the user is told to frame the
    whole card, not only that a field was not read (they would retake the same framing)."""
    reading = read_side(_cropped(side, box), today=TODAY)
    assert because in reading.problems and "idcard_cut_off" in reading.problems


@pytest.mark.parametrize(("side", "box"), [("back", (0.0, 0.0, 1.0, 0.8)), ("front", (0.0, 0.0, 0.85, 1.0))])
def test_a_whole_card_close_to_the_edge_is_not_cut_off(ocr_warm: None, side: str, box: Any) -> None:
    # The photo cropped close to the card, but the whole card in it: nothing to complain of.
    assert read_side(_cropped(side, box), today=TODAY).problems == []


def test_tiny_photo() -> None:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), "white").save(out, format="PNG")
    assert read_side(out.getvalue(), today=TODAY).problems == ["image_too_small"]


def test_dark_photo_says_so(ocr_warm: None) -> None:
    img = Image.open(FIXTURES / CARDS["plain"]["front"]).point(lambda v: v // 12)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    reading = read_side(out.getvalue(), today=TODAY)
    if reading.side is None:
        assert "image_too_dark" in reading.problems
    else:  # still readable: no quality complaint is needed
        assert reading.front is not None


# --- checks without OCR ---------------------------------------------------------------------------------


def _valid_front() -> FrontFields:
    return FrontFields(
        name="张三",
        sex="女",
        ethnicity="汉",
        birth_date=date(1949, 12, 31),
        address="北京市朝阳区建国路88号",
        id_number="11010519491231002X",
    )


def test_validate_front_accepts_a_consistent_card() -> None:
    assert validate_front(_valid_front()) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"name": None}, "idcard_missing_name"),
        ({"name": "Zhang San"}, "idcard_name_invalid"),
        ({"sex": "男"}, "idcard_sex_mismatch"),
        ({"sex": "M"}, "idcard_sex_invalid"),
        ({"ethnicity": "瓦尔肯"}, "idcard_ethnicity_unknown"),
        ({"ethnicity": None}, "idcard_missing_ethnicity"),
        ({"birth_date": date(1949, 12, 30)}, "idcard_birth_date_mismatch"),
        ({"birth_date": None}, "idcard_missing_birth_date"),
        ({"address": None}, "idcard_missing_address"),
        ({"address": "北京"}, "idcard_address_invalid"),
        ({"id_number": None}, "idcard_missing_id_number"),
        ({"id_number": "110105194912310021"}, "idcard_number_checksum"),
        ({"id_number": "1101051949"}, "idcard_number_format"),
    ],
)
def test_validate_front_reasons(change: dict[str, Any], code: str) -> None:
    front = _valid_front()
    for key, value in change.items():
        setattr(front, key, value)
    assert code in validate_front(front)


def test_ethnicity_with_suffix_and_minority_names() -> None:
    front = _valid_front()
    front.ethnicity = "汉族"
    assert validate_front(front) == []
    front.name = "阿依古丽·买买提"
    assert validate_front(front) == []


def test_validate_back_and_card() -> None:
    back = BackFields(authority="北京市公安局朝阳分局", valid_from=date(2016, 1, 10), long_term=True)
    assert validate_back(back, today=TODAY) == []
    assert validate_card(_valid_front(), back, today=TODAY) == []
    assert validate_card(_valid_front(), None, today=TODAY)[-1] == "idcard_missing_back"

    expired = BackFields(
        authority="北京市公安局朝阳分局", valid_from=date(2006, 1, 10), valid_to=date(2026, 1, 10)
    )
    assert "idcard_expired" in validate_back(expired, today=TODAY)
    # Valid through its last day.
    assert "idcard_expired" not in validate_back(expired, today=date(2026, 1, 10))
    future = BackFields(authority="北京市公安局", valid_from=date(2027, 1, 10), valid_to=date(2037, 1, 10))
    assert "idcard_not_yet_valid" in validate_back(future, today=TODAY)
    assert validate_back(BackFields(authority=None), today=TODAY) == [
        "idcard_missing_authority",
        "idcard_missing_validity",
    ]
    # 20-year card for someone 56 at issue: should have been long-term.
    wrong = BackFields(authority="北京市公安局", valid_from=date(2006, 1, 10), valid_to=date(2026, 1, 10))
    assert "idcard_validity_length" in validate_card(_valid_front(), wrong, today=date(2025, 1, 1))
    young = _valid_front()
    young.id_number, young.birth_date = "110105200001010004", date(2000, 1, 1)
    young.id_number = young.id_number[:17] + __import__(
        "bot.verification.ids", fromlist=["resident_id_check_char"]
    ).resident_id_check_char(young.id_number[:17])
    assert "idcard_validity_long_term_too_young" in validate_card(young, back, today=TODAY)


def test_side_problems() -> None:
    assert side_problems("front", "front") == []
    assert side_problems("front", "back") == ["idcard_expected_front"]
    assert side_problems("back", "front") == ["idcard_expected_back"]
    assert side_problems("back", "front", already="front") == ["idcard_same_side_twice"]
    assert side_problems("back", None) == ["idcard_not_found"]


# --- command line ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_json() -> None:
    card = CARDS["expired"]
    cmd = [sys.executable, "-m", "bot.verification.idcard", str(FIXTURES / card["front"])]
    cmd += [str(FIXTURES / card["back"]), "--json", "--today", TRUTH["today"]]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    fields = card["fields"]
    assert out["front"] == {
        k: fields[k] for k in ("name", "sex", "ethnicity", "birth_date", "address", "id_number")
    }
    assert out["back"] == {k: fields[k] for k in ("authority", "valid_from", "valid_to")}
    assert "idcard_expired" in out["problems"]


@pytest.mark.slow
def test_cli_unreadable_exits_non_zero(tmp_path: Path) -> None:
    bogus = tmp_path / "x.jpg"
    bogus.write_bytes(b"nope")
    cmd = [sys.executable, "-m", "bot.verification.idcard", str(bogus), "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert json.loads(result.stdout)["problems"] == ["image_not_an_image"]


# --- the public synthetic cards of ../shared/testdata (GPL; read in place, never copied) ------------------


def _read(path: Path) -> SideReading:
    return read_side(path.read_bytes(), today=TODAY)


def test_public_synthetic_card_zhangsan(testdata: Path, ocr_warm: None) -> None:
    derived = testdata / "idcards" / "derived"
    front = _read(derived / "synthetic_zhangsan_color_front.png")
    back = _read(derived / "synthetic_zhangsan_color_back.png")
    assert front.side == "front" and back.side == "back"
    assert front.front == FrontFields(
        name="张三",
        sex="男",
        ethnicity="汉",
        birth_date=date(1995, 7, 17),
        address="四川省成都市武侯区益州大道中段722号复城国际",
        id_number="513701199507176346",
    )
    assert back.back == BackFields(
        authority="四川省成都市锦江分局", valid_from=date(2010, 1, 1), valid_to=date(2020, 12, 12)
    )
    # The generator printed 男 with a female number, and an 11-year period: the checks say so.
    problems = validate_card(front.front, back.back, today=TODAY)
    assert {"idcard_sex_mismatch", "idcard_expired", "idcard_validity_dates"} <= set(problems)
    assert front.portrait_jpeg is not None and "idcard_portrait_no_face" not in front.problems


def test_public_synthetic_card_airobot(testdata: Path, ocr_warm: None) -> None:
    derived = testdata / "idcards" / "derived"
    front = _read(derived / "synthetic_airobot_bw_front.png")
    back = _read(derived / "synthetic_airobot_bw_back.png")
    assert front.side == "front" and back.side == "back"
    assert front.front is not None and front.front.id_number == "123456789012345678"
    assert {"idcard_number_checksum", "idcard_ethnicity_unknown", "idcard_portrait_no_face"} <= set(
        front.problems
    )
    assert back.back is not None and back.back.valid_to == date(2020, 1, 1)
    assert "idcard_expired" in back.problems


def test_public_combined_photo_is_read_as_one_side(testdata: Path, ocr_warm: None) -> None:
    # Both sides in one picture: whichever side wins, nothing crashes and the fields are typed.
    reading = _read(testdata / "idcards" / "synthetic_zhangsan_color_front_back.jpg")
    assert reading.side in ("front", "back")
