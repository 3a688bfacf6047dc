"""Register loading through the real dispatcher: upload, row report, confirm or cancel."""

from __future__ import annotations

import io
import re

from aiogram import Dispatcher
from aiogram.methods import EditMessageText
from openpyxl import Workbook

from bot.services import Services
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient
from tests.helpers.fakes import valid_number
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.register import REGISTER, XINGHE
from tests.helpers.staff import admin, press, settings, text

# The console needs an admin: these fixtures replace the dialog defaults in this module.
__all__ = ["admin", "settings"]


def repos(services: Services) -> Repositories:
    return services.repositories()


def register_with_bad_rows() -> bytes:
    lines = REGISTER.read_text(encoding="utf-8").splitlines()
    lines += [
        # a bad check character in the taxpayer id
        "91210102MA0QWE7R1X,坏企业,active,,,,,",
        # the same row twice
        lines[1],
        # a second, different legal representative
        f"91210102MA0QWE7R1T,辽宁星河商贸有限公司,active,legal_rep,resident_id,{valid_number('11010119900307567')},某某,",
        # an unknown role
        f"91210102MA0QWE7R1T,辽宁星河商贸有限公司,active,boss,resident_id,{valid_number()},某某,",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


async def test_enterprise_register_is_reported_then_loaded_on_confirmation(
    admin: BotClient, services: Services
) -> None:
    repo = repos(services)
    replies = await admin.send_document(register_with_bad_rows(), "企业核心表.csv", "text/csv")
    report = text(replies)
    assert "企业核心表" in report
    assert "可导入 8 行，有问题 4 行" in report
    assert "第 10 行" in report and "第 11 行" in report and "第 12 行" in report and "第 13 行" in report
    assert "重复" in report and "两位不同的法定代表人" in report
    assert "3 户企业的人员将以本文件为准" in report
    assert await repo.enterprises.count() == 0  # nothing before the confirmation
    replies = await press(admin, replies, "确认导入")
    assert "已导入 8 行" in text(replies)
    assert await repo.enterprises.count() == 3
    people = await repo.enterprises.people((await repo.enterprises.get(XINGHE)).id)  # type: ignore[union-attr]
    assert len(people) == 4
    again = await admin.press("st:reg_ok:1:")
    assert "已确认或已取消" in text(again)
    actions = {e.action for e in await repo.audit.for_subject("register_load", 1)}
    assert {"register.stage", "register.applied"} <= actions


async def test_cancelled_load_writes_nothing(admin: BotClient, services: Services) -> None:
    replies = await admin.send_document(REGISTER.read_bytes(), "register.csv")
    replies = await press(admin, replies, "取消")
    assert "已取消导入" in text(replies)
    assert await repos(services).enterprises.count() == 0
    late = await admin.press("st:reg_ok:1:")
    assert "已确认或已取消" in text(late)


async def test_gb18030_csv_with_chinese_headers_and_values(admin: BotClient, services: Services) -> None:
    rows = [
        "纳税人识别号,企业名称,状态,身份,证件类型,证件号码,姓名,手机号码",
        f"{XINGHE},辽宁星河商贸有限公司,正常,法定代表人,居民身份证,{valid_number()},王小明,13800138000",
    ]
    replies = await admin.send_document("\n".join(rows).encode("gb18030"), "register.csv")
    assert "可导入 1 行，有问题 0 行" in text(replies)
    await press(admin, replies, "确认导入")
    assert await repos(services).enterprises.count() == 1


async def test_identity_registry_from_xlsx(admin: BotClient, services: Services) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["doc_type", "number", "name", "birth_date"])
    sheet.append(["resident_id", valid_number(), "王小明", "1990-03-07"])
    sheet.append(["hk_macau_permit", "H12345678", "陈大文", "1985-01-02"])
    sheet.append(["resident_id", valid_number(), "王小明", "1991-03-07"])  # birth date disagrees
    sheet.append(["passport", "E1234567", "Someone", ""])
    out = io.BytesIO()
    book.save(out)
    replies = await admin.send_document(out.getvalue(), "registry.xlsx")
    assert "身份登记表" in text(replies) and "可导入 2 行，有问题 2 行" in text(replies)
    replies = await press(admin, replies, "确认导入")
    assert "已导入 2 行" in text(replies)
    repo = repos(services)
    assert await repo.identity_registry.count() == 2
    record = await repo.identity_registry.get(DocumentType.RESIDENT_ID, valid_number())
    assert record is not None and record.name == "王小明"


async def test_unreadable_and_unknown_files(admin: BotClient) -> None:
    (garbage,) = await admin.send_document(b"\xff\xfe\x00garbage\x81", "x.xlsx")
    assert "无法读取" in garbage.text
    (unknown,) = await admin.send_document(b"a,b,c\n1,2,3\n", "x.csv")
    assert "无法识别表头" in unknown.text
    (empty,) = await admin.send_document(b"\n\n", "x.csv")
    assert "没有数据" in empty.text
    (usage,) = await admin.send("/register")
    assert "taxpayer_id" in usage.text


async def test_reviewer_cannot_load(
    admin: BotClient, dp: Dispatcher, bot: MockedBot, services: Services
) -> None:
    await admin.send("/grant 777002 reviewer")
    reviewer = BotClient(dp, bot, user_id=777002)
    replies = await reviewer.send_document(REGISTER.read_bytes(), "register.csv")
    assert "可导入" not in text(replies)
    replies = await admin.send_document(REGISTER.read_bytes(), "register.csv")
    forged = await reviewer.press("st:reg_ok:1:")
    assert "该按钮已失效" in text(forged)
    assert await repos(services).enterprises.count() == 0


async def test_a_long_report_is_paged_with_the_confirmation_on_every_page(
    admin: BotClient, services: Services, dp: Dispatcher, bot: MockedBot
) -> None:
    lines = REGISTER.read_text(encoding="utf-8").splitlines()
    bad = [f"91210102MA0QWE7R1X,坏企业{i},active,,,,," for i in range(200)]
    data = ("\n".join(lines + bad) + "\n").encode("utf-8")
    (first,) = await admin.send_document(data, "企业核心表.csv", "text/csv")
    assert "可导入 8 行，有问题 200 行" in first.text and "确认导入这 8 行吗" in first.text
    assert len(first.text) < 4096 and "第 1/" in first.text
    seen = set(re.findall(r"第 (\d+) 行", first.text))
    reply, pages = first, 1
    while "▶" in str(reply.buttons):
        (reply,) = [r for r in await admin.press(reply.button_data("▶")) if r.text]
        assert isinstance(reply.method, EditMessageText)
        assert len(reply.text) < 4096 and "可导入 8 行" in reply.text and "确认导入这 8 行吗" in reply.text
        seen |= set(re.findall(r"第 (\d+) 行", reply.text))
        pages += 1
    assert pages >= 3 and f"第 {pages}/{pages} 页" in reply.text
    assert seen == {str(n) for n in range(len(lines) + 1, len(lines) + 201)}  # every bad row, once
    # Someone who is not staff cannot page it; the admin loads from the last page.
    stranger = BotClient(dp, bot, user_id=4242)
    assert not any("可导入" in r.text for r in await stranger.press(reply.button_data("◀")))
    assert "已导入 8 行" in text(await press(admin, [reply], "确认导入"))
    # Once decided the pages stay readable, without the confirmation.
    (back,) = [r for r in await admin.press(reply.button_data("◀")) if r.text]
    assert "确认导入" not in back.text and "确认导入" not in str(back.buttons)
    assert await repos(services).enterprises.count() == 3


async def test_a_forged_report_page_is_refused(admin: BotClient, services: Services) -> None:
    entry = await repos(services).audit.write(None, "staff.help", "telegram_user", 1, None, None)
    replies = await admin.press(f"st:reg_pg:1:{entry}")
    assert "无法翻页" in text(replies)
