"""Long staff lists come in pages with buttons: /enterprise, /person's audit trail, register reports."""

from __future__ import annotations

import re

from aiogram import Dispatcher
from aiogram.methods import EditMessageText

from bot.domain.enterprise import RegisterRow
from bot.services import Services
from bot.storage.repositories import Repositories
from tests.helpers.client import BotClient
from tests.helpers.fakes import valid_number
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import XINGHE, collected_person
from tests.helpers.staff import admin, settings

__all__ = ["admin", "settings"]

TELEGRAM_LIMIT = 4096


def _people(count: int) -> list[RegisterRow]:
    rows = [
        RegisterRow(
            XINGHE,
            "辽宁星河商贸有限公司",
            role="legal_rep",
            doc_type="resident_id",
            doc_number=valid_number(f"11010119900307{0:03d}"),
            person_name="王小明",
        )
    ]
    rows += [
        RegisterRow(
            XINGHE,
            "辽宁星河商贸有限公司",
            role="tax_handler",
            doc_type="resident_id",
            doc_number=valid_number(f"11010119900307{i:03d}"),
            person_name="欧阳娜娜" + str(i),
        )
        for i in range(1, count)
    ]
    return rows


async def test_an_enterprise_with_125_people_is_paged(admin: BotClient, services: Services) -> None:
    repo = Repositories(services.db, services.cipher)
    await repo.enterprises.load(_people(125), loaded_by=None)
    (first,) = await admin.send(f"/enterprise {XINGHE}")
    assert len(first.text) < TELEGRAM_LIMIT
    assert "辽宁星河商贸有限公司" in first.text and "1/" in first.text
    seen = first.text.count("• ")
    reply = first
    pages = 1
    while any("▶" in label for row in reply.buttons for label, _ in row):
        (reply,) = [r for r in await admin.press(reply.button_data("▶")) if r.text]
        assert isinstance(reply.method, EditMessageText)
        assert len(reply.text) < TELEGRAM_LIMIT and "辽宁星河商贸有限公司" in reply.text
        seen += reply.text.count("• ")
        pages += 1
    assert pages >= 5
    assert seen == 125  # every register person once
    (back,) = [r for r in await admin.press(reply.button_data("◀")) if r.text]
    assert f"{pages - 1}/{pages}" in back.text
    entries = await repo.audit.for_subject("enterprise", XINGHE)
    assert len([e for e in entries if e.action == "staff.lookup.enterprise"]) == pages + 1


async def test_the_audit_trail_of_a_person_is_paged_newest_first(
    admin: BotClient, services: Services
) -> None:
    repo = Repositories(services.db, services.cipher)
    person = await collected_person(repo, 7001, valid_number())
    for i in range(24):
        await repo.audit.write(None, f"test.step{i:02d}", "person", person.id, None, None)
    (first,) = await admin.send("/person tg:7001")
    # Newest first, the changes only: this look-up's own audit row is counted apart, below them.
    assert "test.step23" in first.text and "test.step14" in first.text and "test.step13" not in first.text
    assert "1/3" in first.text and "◀" not in str(first.buttons)
    assert "工作人员查阅记录：</b>共 1 次" in first.text and "staff.lookup" not in first.text
    (second,) = [r for r in await admin.press(first.button_data("▶")) if r.text]
    assert "test.step13" in second.text and "test.step04" in second.text
    assert "test.step14" not in second.text and "test.step03" not in second.text and "2/3" in second.text
    assert "王*" in second.text  # the masked record stays on every page
    (third,) = [r for r in await admin.press(second.button_data("▶")) if r.text]
    assert "person.collect" in third.text and "▶" not in str(third.buttons)
    # The pages are pinned at the first: paging (itself audited) shifts nothing, nor the count.
    assert "共 1 次" in third.text


async def test_a_page_button_of_someone_not_staff_is_refused(
    admin: BotClient, services: Services, dp: Dispatcher, bot: MockedBot
) -> None:
    repo = Repositories(services.db, services.cipher)
    await repo.enterprises.load(_people(60), loaded_by=None)
    (first,) = await admin.send(f"/enterprise {XINGHE}")
    stranger = BotClient(dp, bot, user_id=4242)
    replies = await stranger.press(first.button_data("▶"))
    assert not any("辽宁星河商贸有限公司" in r.text for r in replies)


async def test_the_staff_members_of_staff_are_paged(admin: BotClient, services: Services) -> None:
    from bot.domain.staff import StaffRole

    repo = Repositories(services.db, services.cipher)
    for i in range(300):
        await repo.staff.grant(10_000_000_000 + i, StaffRole.REVIEWER, granted_by=900001)
    (first,) = await admin.send("/staff")
    assert len(first.text) < TELEGRAM_LIMIT and "/grant" in first.text and "1/" in first.text
    seen = set(re.findall(r"• (\d{11})", first.text))
    reply = first
    while "▶" in str(reply.buttons):
        (reply,) = [r for r in await admin.press(reply.button_data("▶")) if r.text]
        assert isinstance(reply.method, EditMessageText)
        assert len(reply.text) < TELEGRAM_LIMIT and "/grant" in reply.text
        seen |= set(re.findall(r"• (\d{11})", reply.text))
    assert seen == {str(10_000_000_000 + i) for i in range(300)}
