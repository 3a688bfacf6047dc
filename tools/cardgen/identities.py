"""Fictitious identities for generated ID cards. Nothing here describes a real person."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from bot.verification.idcard.fields import ETHNICITIES
from bot.verification.ids import add_years, age_on, expected_validity_years, resident_id_check_char
from bot.verification.regions import region_full_name, region_names

__all__ = ["CardIdentity", "random_identity"]

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "令狐", "慕容", "尉迟")
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅文斌宇浩凯鹏飞晨欣怡子涵雨轩思博海波"
    "丹辉鑫婷颖琳慧晶瑞琪佳俊彬嘉豪淑珍春燕云峰宁立新光荣成亮林东德福贵胜利振兴晓萍雪松柏健康永乐安"
)
_STREET_KIND = ("路", "街", "大道", "巷", "大街")
_STREET_WORDS = "人民解放建设和平胜利中山新华东风红旗光明幸福团结文化朝阳长江黄河花园友谊青年工农"
_VILLAGE_WORDS = "张王李刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢"


@dataclass(frozen=True)
class CardIdentity:
    name: str
    sex: str
    ethnicity: str
    birth_date: date
    address: str
    id_number: str
    authority: str
    valid_from: date
    valid_to: date | None  # None: 长期

    @property
    def long_term(self) -> bool:
        return self.valid_to is None

    def ground_truth(self) -> dict[str, str]:
        return {
            "name": self.name,
            "sex": self.sex,
            "ethnicity": self.ethnicity,
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "id_number": self.id_number,
            "authority": self.authority,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else "长期",
        }


def _county_codes() -> list[str]:
    from bot.verification.regions import _table

    return [c for c, names in _table().items() if not c.endswith("00") and names[-1].last_year is None]


_COUNTIES: list[str] = []


def _random_name(rng: random.Random) -> str:
    surname = rng.choice(_COMPOUND_SURNAMES) if rng.random() < 0.04 else rng.choice(_SURNAMES)
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
    return surname + given


def _random_address(rng: random.Random, region: str) -> str:
    base = region_full_name(region) or ""
    if rng.random() < 0.5:
        street = "".join(rng.sample(_STREET_WORDS, 2)) + rng.choice(_STREET_KIND)
        tail = f"{rng.randint(1, 999)}号"
        if rng.random() < 0.6 and len(base) < 14:
            tail += (
                f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(1, 32)}{rng.randint(1, 4):02d}室"
            )
    else:
        street = (
            rng.choice(_VILLAGE_WORDS)
            + rng.choice(("家村", "庄村", "屯", "湾村"))
            + f"{rng.randint(1, 12)}组"
        )
        tail = f"{rng.randint(1, 99)}号"
    return base + street + tail


def random_identity(
    rng: random.Random,
    *,
    today: date,
    valid_check_char: bool = True,
    expired: bool | None = None,
    long_term: bool | None = None,
) -> CardIdentity:
    """A consistent fictitious identity; ``valid_check_char=False`` gives a wrong last character,
    ``expired=True`` a card whose period has ended, ``long_term=True`` a 长期 card (born 46+ years
    before issue)."""
    if long_term:
        expired = False  # a 长期 card never expires
    if not _COUNTIES:
        _COUNTIES.extend(_county_codes())
    region = rng.choice(_COUNTIES)
    address = _random_address(rng, region)
    # Three printed lines of 11 characters; a few autonomous counties have names too long for that.
    while len(address) > 31:
        region = rng.choice(_COUNTIES)
        address = _random_address(rng, region)
    sex = rng.choice("男女")
    ethnicity = "汉" if rng.random() < 0.6 else rng.choice(ETHNICITIES)

    for _ in range(1000):
        if long_term:
            birth = today - timedelta(days=rng.randint(47 * 365, 85 * 365))
        else:
            birth = today - timedelta(days=rng.randint(3 * 365, 80 * 365))
        # The current card was issued at some point of the last 20 years, after the 2nd-gen start.
        issue_floor = max(date(2004, 1, 1), birth + timedelta(days=365))
        if expired:
            issue = today - timedelta(days=rng.randint(5 * 365 + 30, 22 * 365))
        else:
            issue = today - timedelta(days=rng.randint(10, 20 * 365))
        if issue < issue_floor:
            continue
        years = expected_validity_years(age_on(birth, issue))
        if long_term is not None and (years is None) != long_term:
            continue
        valid_to = add_years(issue, years) if years is not None else None
        is_expired = valid_to is not None and valid_to < today
        if expired is not None and is_expired != expired:
            continue
        break
    else:  # pragma: no cover - the ranges above always allow a solution
        raise RuntimeError("no consistent validity period found")

    seq = rng.randint(0, 99) * 10 + (
        rng.choice((1, 3, 5, 7, 9)) if sex == "男" else rng.choice((0, 2, 4, 6, 8))
    )
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    check = resident_id_check_char(first17)
    if not valid_check_char:
        check = rng.choice([c for c in "0123456789X" if c != check])
    prefecture = region[:4] + "00"
    authority_region = prefecture if region_names(prefecture) and rng.random() < 0.5 else region
    authority_base = region_full_name(authority_region) or ""
    # The police office of the city prints the city only: drop the province prefix.
    authority_base = authority_base.split("省", 1)[-1].split("自治区", 1)[-1]
    authority = authority_base + (
        "公安局" if authority_region == prefecture or rng.random() < 0.6 else "公安分局"
    )
    if len(authority) > 14:  # one printed line: long county names are issued by the city's bureau
        authority = (region_full_name(prefecture) or region_full_name(region[:2] + "0000") or "").split(
            "省", 1
        )[-1]
        authority = authority.split("自治区", 1)[-1][:11] + "公安局"
    return CardIdentity(
        name=_random_name(rng),
        sex=sex,
        ethnicity=ethnicity,
        birth_date=birth,
        address=address,
        id_number=first17 + check,
        authority=authority,
        valid_from=issue,
        valid_to=valid_to,
    )


def with_fields(identity: CardIdentity, **changes: object) -> CardIdentity:
    return replace(identity, **changes)  # type: ignore[arg-type]


# Characters common in real given names that older recognisers lack (the 14 of issue 17 and more of
# the same kind): the rare-name set of the benchmark draws its given names from these.
RARE_NAME_CHARS = "赟旻翀禛琤蓁焜燊淏曌嫱珅璘暐昇玥翊芃珩琰晔煜犇淼鑫垚堃喆昊璟瑀彧"


def with_rare_name(identity: CardIdentity, rng: random.Random) -> CardIdentity:
    """The same identity with a given name holding one or two rare characters."""
    surname = identity.name.split("·")[0][:1] if identity.ethnicity == "汉" else identity.name[:1]
    given = rng.choice(RARE_NAME_CHARS)
    if rng.random() < 0.5:
        other = rng.choice(RARE_NAME_CHARS + "明华丽芳伟强")
        given = given + other if rng.random() < 0.5 else other + given
    return replace(identity, name=surname + given)
