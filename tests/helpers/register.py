"""The fictitious enterprise register of tests/fixtures/register, as RegisterRows, and collected persons.

Taxpayer ids carry valid GB 32100 check characters and document numbers valid GB 11643 ones
(tests/unit/storage/test_enterprises.py checks them with bot.verification.ids).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from bot.domain.enterprise import RegisterRow
from bot.domain.models import CollectedRecord, IdentityDocument, LivePhoto, Person, PhoneNumber
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType

REGISTER = Path(__file__).resolve().parents[1] / "fixtures" / "register" / "enterprises.csv"

# Enterprises of the fixture.
XINGHE = "91210102MA0QWE7R1T"  # 辽宁星河商贸有限公司, active
YUNSHAN = "91210100MA0TUB3K55"  # 沈阳云杉科技有限公司, active
HAIOU = "91210200MA0RNP8L2U"  # 大连海鸥贸易有限公司, deregistered

# People of the fixture (document numbers).
WANG = "110101199003071233"  # 王小明: legal rep of XINGHE and HAIOU, finance officer of YUNSHAN
LI = "210102198506120020"  # 李丽: finance officer of XINGHE
ZHAO = "210102198809230032"  # 赵强: tax handler of XINGHE
SUN = "210102199201010044"  # 孙婷: invoice buyer of XINGHE
ZHOU = "21010219751111005X"  # 周建国: legal rep of YUNSHAN
WU = "210102198005050060"  # 吴芳: tax handler of YUNSHAN


def register_rows(path: Path = REGISTER) -> list[RegisterRow]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            RegisterRow(
                taxpayer_id=row["taxpayer_id"],
                enterprise_name=row["enterprise_name"],
                status=row["status"],
                role=row["role"] or None,
                doc_type=row["doc_type"] or None,
                doc_number=row["doc_number"] or None,
                person_name=row["person_name"] or None,
                phone=row["phone"] or None,
            )
            for row in csv.DictReader(fh)
        ]


async def load_register(repo: Repositories) -> None:
    await repo.enterprises.load(register_rows(), loaded_by=None)


async def collected_person(
    repo: Repositories,
    user_id: int,
    number: str,
    name: str = "王小明",
    *,
    encoding: tuple[float, ...] | None = None,
    valid_to: date | None = date(2040, 5, 1),
    phone: str = "13800138000",
    with_live_photo: bool = True,
) -> Person:
    """A person who completed collection, linked to Telegram account ``user_id``."""
    now = repo.clock()
    document = IdentityDocument(
        doc_type=DocumentType.RESIDENT_ID,
        number=number,
        name=name,
        sex="男",
        ethnicity="汉",
        address="北京市东城区景山前街4号",
        authority="北京市公安局东城分局",
        valid_from=None if valid_to is None else date(valid_to.year - 20, valid_to.month, valid_to.day),
        valid_to=valid_to,
    )
    live = LivePhoto(media_id=f"live-{user_id}", encoding=encoding or tuple(0.01 * i for i in range(128)))
    person = await repo.persons.save_collected(
        CollectedRecord(
            telegram_user_id=user_id,
            document=document,
            consents=(),
            phone=PhoneNumber(phone, now),
            live_photo=live,
        )
    )
    if not with_live_photo:
        async with repo.db.transaction() as conn:
            await conn.execute("DELETE FROM live_photos WHERE person_id = ?", (person.id,))
        found = await repo.persons.get(person.id)
        assert found is not None
        person = found
    return person
