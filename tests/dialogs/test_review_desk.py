"""Issue 21 item 3: the reviewer can verify. The full values behind a reveal that writes an audit row
(only for who may decide), corrected and typed fields marked, the conflicting record's portrait and
live photo beside the new ones, "个人 #N" a working look-up, and the photos as one album before the
case card (Telegram: 2–10 items an album)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram import Dispatcher
from aiogram.methods import SendMediaGroup, SendMessage
from aiogram.types import BufferedInputFile, InputMediaPhoto

from bot.domain.models import (
    CollectedRecord,
    IdentityDocument,
    LivePhoto,
    PhoneNumber,
    ReviewCase,
    ReviewKind,
    ReviewStatus,
)
from bot.handlers.staff.review import album_chunks, case_text
from bot.services import Services
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient
from tests.helpers.fakes import OTHER_ENCODING, FakeSms, FakeVerifier, valid_number
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.postgres import database_url
from tests.helpers.staff import admin, collect_into_review, grant, press, sent_to, settings, text

__all__ = ["admin", "database_url", "settings"]

REVIEWER_ID = 777102


@pytest.fixture
async def reviewer(admin: BotClient) -> BotClient:
    return await grant(admin, REVIEWER_ID)


def repos(services: Services) -> Repositories:
    return services.repositories()


async def test_reveal_shows_the_full_values_and_is_audited(
    reviewer: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    taxpayer = BotClient(dp, bot, user_id=5101)
    await collect_into_review(taxpayer, verifier, sms)
    replies = await reviewer.send("/review")
    (card,) = [r for r in replies if r.buttons]
    assert valid_number() not in card.text and "出生日期：****-**-**" in card.text
    before = len(bot.recorder.requests)
    replies = await press(reviewer, replies, "显示完整信息")
    (shown,) = sent_to(replies, REVIEWER_ID)
    assert valid_number() in shown.text and "王小明" in shown.text and "景山前街4号" in shown.text
    assert "1990-03-07" in shown.text and "13800138000" in shown.text
    sent = [m for m in bot.recorder.requests[before:] if isinstance(m, SendMessage)]
    assert sent and sent[-1].protect_content is True  # cannot be forwarded or saved
    case = await repos(services).review.next_open()
    assert case is not None
    rows = await repos(services).audit.for_subject("review_case", case.id)
    assert [e.actor_user_id for e in rows if e.action == "review.reveal"] == [REVIEWER_ID]


async def test_reveal_is_refused_to_whom_may_not_decide(
    reviewer: BotClient, verifier: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    """The reviewer's own case: no reveal (four eyes), the refusal audited, nothing shown."""
    await collect_into_review(reviewer, verifier, sms)
    case = await repos(services).review.next_open()
    assert case is not None
    from bot.handlers.staff.common import StaffAct

    replies = await reviewer.press(StaffAct(a="rv_full", n=case.id).pack())
    assert valid_number() not in text(replies)
    actions = [e.action for e in await repos(services).audit.for_subject("review_case", case.id)]
    assert "review.reveal" not in actions
    assert "review.four_eyes" in actions, actions


def _case(payload: dict[str, object], person_id: int | None = None) -> ReviewCase:
    return ReviewCase(
        id=7,
        kind=ReviewKind.IDENTITY_UNVERIFIED,
        status=ReviewStatus.OPEN,
        user_id=1,
        reasons=("review_identity_corrected",),
        media_ids=(),
        payload=payload,
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
        person_id=person_id,
    )


def test_case_card_marks_corrected_and_typed_fields(services: Services) -> None:
    t = services.catalog.translator("zh_CN")
    card = {
        "front": {
            "name": "李小红",
            "sex": "女",
            "ethnicity": "汉",
            "birth_date": "1985-06-15",
            "address": "北京市东城区景山前街4号",
            "id_number": valid_number("11010119850615242"),
        },
        "back": {},
        "corrections": [{"field": "name", "read": "王小明", "typed": "李小红"}],
        "manual": ["back"],
    }
    shown = case_text(t, _case({"flow": "collect", "doc_type": "resident_id", "card": card}), 0)
    name_line = next(line for line in shown.splitlines() if line.startswith("姓名"))
    assert "✏️" in name_line and "李小红" not in name_line
    address_line = next(line for line in shown.splitlines() if line.startswith("住址"))
    assert "✏️" not in address_line and "⌨️" not in address_line
    assert "识别 → 填写" in shown and "王*" in shown


async def test_conflicting_record_photos_beside_the_new_ones_and_its_look_up(
    reviewer: BotClient,
    verifier: FakeVerifier,
    sms: FakeSms,
    dp: Dispatcher,
    bot: MockedBot,
    services: Services,
) -> None:
    repo = repos(services)
    live = await services.media.put(b"\xff\xd8stored-live", "live_photo")
    portrait = await services.media.put(b"\xff\xd8stored-portrait", "idcard_portrait")
    now = repo.clock()
    stored = await repo.persons.save_collected(
        CollectedRecord(
            telegram_user_id=5300,
            document=IdentityDocument(
                doc_type=DocumentType.RESIDENT_ID,
                number=valid_number(),
                name="王小明",
                portrait_media_id=portrait,
            ),
            consents=(),
            phone=PhoneNumber("13800138001", now),
            live_photo=LivePhoto(media_id=live, encoding=OTHER_ENCODING),
        )
    )
    taxpayer = BotClient(dp, bot, user_id=5301)
    await collect_into_review(taxpayer, verifier, sms, phone="13800138002")
    case = await repo.review.next_open()
    assert case is not None and case.kind is ReviewKind.SAME_NUMBER_OTHER_FACE
    assert case.person_id == stored.id
    before = len(bot.recorder.requests)
    replies = await reviewer.send("/review")
    sent = bot.recorder.requests[before:]
    (album,) = [m for m in sent if isinstance(m, SendMediaGroup)]
    captions = [m.caption for m in album.media]
    assert f"冲突的个人 #{stored.id} 已留存的现场照片" in captions
    assert f"冲突的个人 #{stored.id} 已留存的证件头像" in captions
    assert 2 <= len(album.media) <= 10
    # the album first, then the case card
    assert sent.index(album) < max(i for i, m in enumerate(sent) if isinstance(m, SendMessage))
    replies = await press(reviewer, replies, f"查看个人 #{stored.id}")
    assert f"#{stored.id}" in text(replies) and "138****8001" in text(replies)
    looked = [
        e for e in await repo.audit.for_subject("person", stored.id) if e.action == "staff.lookup.person"
    ]
    assert [e.actor_user_id for e in looked] == [REVIEWER_ID]
    (reply,) = await reviewer.send(f"/person 个人 #{stored.id}")
    assert f"#{stored.id}" in reply.text


def _photos(n: int) -> list[InputMediaPhoto]:
    return [InputMediaPhoto(media=BufferedInputFile(b"x", f"{i}.jpg")) for i in range(n)]


@pytest.mark.parametrize(("count", "sizes"), [(1, [1]), (2, [2]), (10, [10]), (11, [6, 5]), (21, [7, 7, 7])])
def test_albums_are_two_to_ten_photos(count: int, sizes: list[int]) -> None:
    assert [len(c) for c in album_chunks(_photos(count))] == sizes
