"""The typed result of reading an ID card. Plain dataclasses: picklable across the process pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.verification.face.engine import FaceEncodingResult

__all__ = ["ETHNICITIES", "BackFields", "FrontFields", "Side", "SideReading"]

Side = Literal["front", "back"]

# The 56 officially recognised ethnic groups, as printed after 民族 on the card.
ETHNICITIES: tuple[str, ...] = (
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家",
    "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇",
    "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
    "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙",
    "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)  # fmt: skip


@dataclass
class FrontFields:
    """人像面 (portrait side). A field is None when it could not be read."""

    name: str | None = None
    sex: str | None = None  # "男" / "女"
    ethnicity: str | None = None  # without the 族 suffix, e.g. "汉"
    birth_date: date | None = None
    address: str | None = None
    id_number: str | None = None


@dataclass
class BackFields:
    """国徽面 (national-emblem side)."""

    authority: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None  # None with long_term=True means 长期
    long_term: bool = False


@dataclass
class SideReading:
    side: Side | None
    front: FrontFields | None = None
    back: BackFields | None = None
    problems: list[str] = field(default_factory=list)
    portrait_jpeg: bytes | None = None
    # The portrait's face encoding, made in the same job as the reading (``read_side_and_portrait``):
    # one trip to the engine per front photo. None when not asked for, or no portrait.
    portrait_face: FaceEncodingResult | None = None
    # Values taken from the ID number instead of the print (reason codes such as
    # "idcard_birth_date_corrected"): not problems, but to be shown and kept with the record.
    corrections: list[str] = field(default_factory=list)
    # Seconds per stage ("decode", "ocr", "portrait", "total"), for the benchmark and the logs.
    timings: dict[str, float] = field(default_factory=dict)
