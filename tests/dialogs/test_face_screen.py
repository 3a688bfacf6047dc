"""What the face step says (issue 21, item 7): the real length limit, the function's own title, which
action was missing, and 【返回】 keeping the verified phone."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain.outcomes import EventOutcome
from bot.services import Services
from bot.storage.repositories.events import VerificationEvent
from bot.ui import Function, Go
from bot.verification.face import LivenessResult
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front_reading, verdict
from tests.helpers.functions import press, repos, text, upload_card
from tests.helpers.register import WANG, collected_person

PHONE = "13800138000"


async def to_challenge(client: BotClient, verifier: FakeVerifier, sms: FakeSms) -> list[Reply]:
    verifier.readings[b"front"] = front_reading()
    verifier.readings[b"back"] = back_reading()
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await upload_card(client)
    replies = await press(client, replies, "我已阅读并同意")
    await client.send(PHONE)
    replies = await client.send(sms.code_for(PHONE))
    return await press(client, replies, "我已阅读并同意")


async def test_prompt_states_the_real_limit_and_the_missing_action_is_named(
    client: BotClient, verifier: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    services.settings = services.settings.model_copy(update={"liveness_challenge": ["open_mouth", "blink"]})
    replies = await to_challenge(client, verifier, sms)
    limit = int(services.settings.max_selfie_seconds)
    assert f"3–{limit} 秒" in text(replies) and "【实名验证】" in text(replies)
    failed = verdict("fail", ["liveness_wrong_action"])
    liveness = LivenessResult(False, ["open_mouth"], [], None, ["liveness_wrong_action"])
    verifier.verdicts[b"half"] = replace(failed, liveness=liveness)
    replies = await client.send_video(b"half")
    assert "未检测到：眨眨眼" in text(replies) and "张张嘴" not in text(replies).split("未检测到")[1][:8]
    # the refusal is a statistics row with its reason
    events = [e for e in await _events(services) if e.step == "face"]
    assert [(e.flow, e.outcome, e.reason_code) for e in events] == [
        ("collect", EventOutcome.REJECTED, "liveness_wrong_action")
    ]
    # the Telegram-declared length is refused with the same limit
    replies = await client.send_video(b"long", duration=limit + 5)
    assert f"不超过 {limit} 秒" in text(replies)


async def _events(services: Services) -> list[VerificationEvent]:
    now = services.clock()
    return await repos(services).events.between(now - timedelta(hours=1), now + timedelta(hours=1))


async def test_back_from_the_selfie_keeps_the_verified_phone(
    client: BotClient, verifier: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    replies = await to_challenge(client, verifier, sms)
    sent = len(sms.sent)
    replies = await press(client, replies, "返回")
    assert "《人脸识别服务协议》" in text(replies)  # one step back: the agreement
    replies = await press(client, replies, "返回")
    assert "138****8000" in text(replies) and "已验证" in text(replies)
    replies = await press(client, replies, "使用该号码")
    assert "《人脸识别服务协议》" in text(replies) and len(sms.sent) == sent  # no new code needed
    replies = await press(client, replies, "我已阅读并同意")
    verifier.verdicts[b"selfie"] = verdict("pass")
    assert "采集成功" in text(await client.send_video(b"selfie"))
    person = await repos(services).persons.find_by_telegram(client.user.id)
    assert person is not None and person.phone is not None and person.phone.number == PHONE


async def test_the_change_face_screen_is_titled_as_its_tip(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    verifier.readings[b"front"] = front_reading()
    verifier.readings[b"back"] = back_reading()
    await collected_person(repos(services), 5000, WANG)
    replies = await client.press(Go(func=Function.CHANGE).pack())
    replies = await upload_card(client)
    replies = await press(client, replies, "我已阅读并同意")
    assert "【身份验证】人脸识别" in text(replies) and "【实名验证】" not in text(replies)
