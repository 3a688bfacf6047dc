"""The verification progress message: it follows the job's place in the queue by edits, then becomes the
result; edits are throttled and a failed one never fails the step."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod

from bot.dialogs import progress as progress_module
from bot.services.verifier import Progress
from bot.ui import Function, Go
from tests.dialogs.test_collect import press, text, to_video
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, verdict
from tests.helpers.mocked_bot import MockedBot

QUEUE = [Progress(ahead=3), Progress(ahead=2), Progress(ahead=1), Progress(started=True)]


@pytest.fixture
def scripted(verifier: FakeVerifier) -> FakeVerifier:
    verifier.readings[b"front"] = front_reading()
    verifier.readings[b"back"] = back_reading()
    verifier.verdicts[b"selfie"] = verdict("pass")
    return verifier


@pytest.fixture
def every_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    """No throttle: each reported place is shown, so the sequence itself can be checked."""
    monkeypatch.setattr(progress_module, "EDIT_INTERVAL", 0.0)


@dataclass
class Call:
    method: TelegramMethod[Any]
    result: Any
    at: float  # loop time when it was made


@pytest.fixture
def calls(bot: MockedBot, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every Bot API call with Telegram's answer (the message ids the bot got back) and its time."""
    made: list[Call] = []
    original = bot.session.make_request

    async def traced(bot_: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:  # noqa: ASYNC109
        at = asyncio.get_running_loop().time()
        result = await original(bot_, method, timeout)
        made.append(Call(method, result, at))
        return result

    monkeypatch.setattr(bot.session, "make_request", traced)
    return made


def progress_thread(calls: list[Call], first_text: str) -> list[str]:
    """Every text the message first posted as `first_text` was edited to, in order."""
    posted = [
        c.result.message_id
        for c in calls
        if isinstance(c.method, SendMessage) and c.method.text == first_text
    ]
    assert len(posted) == 1, [getattr(c.method, "text", type(c.method).__name__) for c in calls]
    edits = [c.method for c in calls if isinstance(c.method, EditMessageText)]
    assert {m.message_id for m in edits} == set(posted)  # only that message was edited
    return [m.text for m in edits]


async def open_front_step(client: BotClient, id_card: str = "身份证采集") -> None:
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, id_card)
    assert "<b>" in text(replies)  # the front-photo prompt


READING = "正在识别证件，请稍候…"


def card_queued(ahead: int) -> str:
    return f"照片已收到，正在排队等候识别，前面还有 {ahead} 位，请稍候…"


async def test_card_progress_follows_the_queue_then_shows_the_result(
    client: BotClient, calls: list[Call], scripted: FakeVerifier, every_edit: None
) -> None:
    await open_front_step(client)
    scripted.reports = list(QUEUE)
    replies = await client.send_photo(b"front")
    # posted as "reading" (nobody was waiting when the photo came), then the queue's story, by edits
    assert progress_thread(calls, READING) == [
        card_queued(3),
        card_queued(2),
        card_queued(1),
        READING,
        "✅ 人像面识别完成。",
    ]
    assert "请点击【确定】确认截取的头像部分" in text(replies)  # the step went on


async def test_first_text_is_the_estimate_and_next_in_line_is_said(
    client: BotClient, calls: list[Call], scripted: FakeVerifier, every_edit: None
) -> None:
    await open_front_step(client)
    scripted.waiting = 4
    scripted.reports = [Progress(ahead=0), Progress(started=True)]
    await client.send_photo(b"front")
    assert progress_thread(calls, card_queued(4)) == [
        "照片已收到，正在排队等候识别，下一位就是您，请稍候…",
        READING,
        "✅ 人像面识别完成。",
    ]


async def test_a_refusal_also_replaces_the_progress(
    client: BotClient, calls: list[Call], scripted: FakeVerifier, every_edit: None
) -> None:
    await open_front_step(client)
    scripted.reports = [Progress(ahead=1), Progress(started=True)]
    await client.send_photo(b"not-a-card")
    edits = progress_thread(calls, READING)
    assert edits[:2] == [card_queued(1), READING]
    assert edits[-1].startswith("未能识别这张照片")


async def test_face_progress_is_edited_into_the_verdict(
    client: BotClient, calls: list[Call], scripted: FakeVerifier, sms: FakeSms, every_edit: None
) -> None:
    await to_video(client, sms)
    scripted.reports = list(QUEUE)
    calls.clear()
    replies = await client.send_video(b"selfie")
    assert progress_thread(calls, "正在进行人脸识别，请稍候…") == [
        "视频已收到，正在排队等候人脸识别，前面还有 3 位，请稍候…",
        "视频已收到，正在排队等候人脸识别，前面还有 2 位，请稍候…",
        "视频已收到，正在排队等候人脸识别，前面还有 1 位，请稍候…",
        "正在进行人脸识别，请稍候…",
        "✅ 人脸识别通过。",
    ]
    assert "采集成功" in text(replies)


async def test_face_progress_in_english(
    client_en: BotClient, calls: list[Call], scripted: FakeVerifier, sms: FakeSms, every_edit: None
) -> None:
    client = client_en
    await open_front_step(client, "Resident ID card")
    replies = await client.send_photo(b"front")
    replies = await press(client, replies, "OK")
    replies = await client.send_photo(b"back")
    replies = await press(client, replies, "Next")
    replies = await press(client, replies, "I have read and agree")
    await client.send("13800138000")
    replies = await client.send(sms.code_for("13800138000"))
    replies = await press(client, replies, "I have read and agree")
    assert "in this order" in text(replies)
    scripted.reports = [Progress(ahead=2), Progress(started=True)]
    calls.clear()
    replies = await client.send_video(b"selfie")
    assert progress_thread(calls, "Checking your face, please wait…") == [
        "Video received and waiting in line for the face check: 2 ahead of you. Please wait…",
        "Checking your face, please wait…",
        "✅ Face recognition passed.",
    ]
    assert "Collection successful" in text(replies)


async def test_edits_are_throttled_and_unchanged_texts_are_not_sent(
    client: BotClient,
    calls: list[Call],
    scripted: FakeVerifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    interval = 0.4
    monkeypatch.setattr(progress_module, "EDIT_INTERVAL", interval)
    await open_front_step(client)
    # a busy queue: the place moves every 0.1 s for about a second, twice reported unchanged
    scripted.reports = [Progress(ahead=n) for n in (6, 6, 5, 4, 4, 3, 2, 1, 0)] + [Progress(started=True)]
    scripted.report_gap = 0.1
    calls.clear()
    await client.send_photo(b"front")
    texts = progress_thread(calls, READING)
    assert texts[-1] == "✅ 人像面识别完成。"
    progress_edits = texts[:-1]
    assert all(a != b for a, b in itertools.pairwise([READING, *texts])), texts
    post = next(c.at for c in calls if isinstance(c.method, SendMessage) and c.method.text == READING)
    edit_times = [c.at for c in calls if isinstance(c.method, EditMessageText)][:-1]
    times = [post, *edit_times]
    # at least one place was shown, none sooner than the interval after the one before
    assert 1 <= len(progress_edits) <= 1 + (times[-1] - post) / interval, texts
    assert all(b - a >= interval * 0.95 for a, b in itertools.pairwise(times)), times
    # fewer edits than reports: the latest place wins, the ones in between are never sent
    assert len(progress_edits) < len(scripted.reports) - 2


async def test_failed_progress_edits_never_fail_the_step(
    client: BotClient,
    bot: MockedBot,
    calls: list[Call],
    scripted: FakeVerifier,
    monkeypatch: pytest.MonkeyPatch,
    every_edit: None,
) -> None:
    failures: list[Callable[[TelegramMethod[Any]], Exception]] = [
        lambda m: TelegramBadRequest(
            m, "Bad Request: message is not modified: specified new message content"
        ),
        lambda m: RuntimeError("connection reset by peer"),
        lambda m: TelegramRetryAfter(m, "Too Many Requests: retry after 5", 5),
    ]
    attempted: list[str] = []
    traced = bot.session.make_request

    async def flaky(bot_: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:  # noqa: ASYNC109
        if isinstance(method, EditMessageText) and "排队" in method.text:
            attempted.append(method.text)
            if failures:
                raise failures.pop(0)(method)
        return await traced(bot_, method, timeout)

    monkeypatch.setattr(bot.session, "make_request", flaky)
    await open_front_step(client)
    scripted.reports = [Progress(ahead=n) for n in (3, 2, 1, 0)]
    scripted.report_gap = 0.05
    calls.clear()
    replies = await client.send_photo(b"front")
    # each failure is logged and forgotten; after flood control the next place waits the 5 s asked
    # for, so "next in line" (reported 0.05 s later) is never tried before the result replaces it
    assert attempted == [card_queued(3), card_queued(2), card_queued(1)]
    assert progress_thread(calls, READING) == ["✅ 人像面识别完成。"]
    assert "请点击【确定】确认截取的头像部分" in text(replies)
