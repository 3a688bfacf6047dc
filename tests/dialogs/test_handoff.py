"""扫一扫 through the real dispatcher: ``/start <token>`` shows the portal, the short code and what is
shared; collection (not collected) or a face step-up (collected) runs through its own entry; the
handoff learns the result; a token works once, for one account, until it expires."""

from __future__ import annotations

import pytest

from bot.dialogs.base import Act
from bot.domain.clock import FixedClock, system_clock
from bot.domain.handoff import HandoffPurpose, HandoffState
from bot.services import Services
from bot.services.handoff import CreatedHandoff, HandoffService
from bot.services.jws import verify
from tests.dialogs.test_collect import PHONE, scripted
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeSms, FakeVerifier, valid_number, verdict
from tests.helpers.functions import press, repos, text
from tests.helpers.register import collected_person

PORTAL_NAME = "电子税务局（沙盒演示）"
__all__ = ["scripted"]


def handoffs(services: Services) -> HandoffService:
    assert services.handoffs is not None
    return services.handoffs


async def new_handoff(services: Services, **kwargs: object) -> CreatedHandoff:
    return await handoffs(services).create("etax-demo", HandoffPurpose.COLLECTION, **kwargs)  # type: ignore[arg-type]


async def state_of(services: Services, created: CreatedHandoff) -> HandoffState:
    found = await handoffs(services).status("etax-demo", created.handoff.id)
    assert found is not None
    return found.state


@pytest.fixture
def clock() -> FixedClock:
    """Pinned, so a test can move it past the token's expiry (now: readings and cards stay valid)."""
    return FixedClock(system_clock())


async def collect_from_document_choice(client: BotClient, sms: FakeSms, replies: list[Reply]) -> list[Reply]:
    """实名信息采集 from its first step, as tests/dialogs/test_collect.py walks it."""
    assert "请选择证件类型" in text(replies)
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front")
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(b"back")
    assert "【信息核实】" in text(replies)
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "阅读全文")
    replies = await press(client, replies, "我已阅读并同意")
    await client.send(PHONE)
    replies = await client.send(sms.code_for(PHONE))
    assert "《人脸识别服务协议》" in text(replies)
    replies = await press(client, replies, "我已阅读并同意")
    return await client.send_video(b"selfie")


async def test_collection_by_qr_code_reports_a_signed_result(
    client: BotClient, scripted: FakeVerifier, sms: FakeSms, services: Services
) -> None:
    created = await new_handoff(services, expected_number=valid_number())
    replies = await client.send(f"/start {created.token}")
    screen = text(replies)
    # Which portal asked, the anti-phishing code the page shows too, what will be shared.
    assert PORTAL_NAME in screen and created.handoff.short_code in screen
    assert "实名信息采集" in screen and "将向该网站提供" in screen and "不会提供您的照片" in screen
    assert await state_of(services, created) is HandoffState.OPENED
    replies = await press(client, replies, "确认，继续")
    assert await state_of(services, created) is HandoffState.IN_PROGRESS
    replies = await collect_from_document_choice(client, sms, replies)
    assert "采集成功" in text(replies)
    assert "已将结果告知「电子税务局（沙盒演示）」" in text(replies)

    done = await handoffs(services).status("etax-demo", created.handoff.id)
    assert done is not None and done.state is HandoffState.DONE and done.result_jws
    claims = verify(done.result_jws, handoffs(services).signer.public_key)
    person = await repos(services).persons.find_by_telegram(client.user.id)
    assert person is not None
    assert claims["method"] == "collection" and claims["expected_document"] == "matched"
    assert claims["person_ref"] == handoffs(services).person_reference("etax-demo", person)
    assert valid_number() not in done.result_jws

    # Once only: the same account scanning again is told so.
    replies = await client.send(f"/start {created.token}")
    assert "已使用过" in text(replies)


async def test_token_of_another_account_is_refused(
    client: BotClient, client_en: BotClient, services: Services
) -> None:
    created = await new_handoff(services)
    await client.send(f"/start {created.token}")
    replies = await client_en.send(f"/start {created.token}")
    assert "used by another account" in text(replies)
    assert created.handoff.short_code not in text(replies)
    # The other account cannot press the first account's confirmation either.
    replies = await client_en.press(Act(a="handoff", v="go").pack())
    assert await state_of(services, created) is HandoffState.OPENED


async def test_expired_token_gets_a_clear_message(
    client: BotClient, services: Services, clock: FixedClock
) -> None:
    created = await new_handoff(services)
    clock.advance(minutes=5, seconds=1)
    replies = await client.send(f"/start {created.token}")
    assert "该二维码已过期" in text(replies)
    assert PORTAL_NAME not in text(replies)
    assert await state_of(services, created) is HandoffState.EXPIRED


async def test_unknown_or_malformed_token(client: BotClient) -> None:
    for param in ("abcdefghijklmnopqrstuvwxyz012345", "x" * 64):
        replies = await client.send(f"/start {param}")
        assert "该二维码无效" in text(replies)
    replies = await client.send("/start")
    assert "该二维码" not in text(replies)  # the plain home screen, as before


async def test_declined_shares_nothing(client: BotClient, services: Services) -> None:
    created = await new_handoff(services)
    replies = await client.send(f"/start {created.token}")
    replies = await press(client, replies, "不是我发起的")
    assert "未向网站提供任何信息" in text(replies)
    found = await handoffs(services).status("etax-demo", created.handoff.id)
    assert found is not None and found.state is HandoffState.FAILED and found.failure == "declined"
    assert found.result_jws is None
    # The confirmation's buttons are stale now.
    replies = await client.press(Act(a="handoff", v="go").pack())
    assert await state_of(services, created) is HandoffState.FAILED


async def test_collected_account_does_a_face_stepup(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    verifier.verdicts[b"selfie"] = verdict("pass")
    await collected_person(repos(services), client.user.id, valid_number(), "王小明")
    created = await new_handoff(services)
    replies = await client.send(f"/start {created.token}")
    assert "刷脸验证" in text(replies) and created.handoff.short_code in text(replies)
    replies = await press(client, replies, "确认，继续")
    assert "刷脸" in text(replies) and "按顺序" in text(replies)
    assert "《人脸识别服务协议》" not in text(replies)
    replies = await client.send_video(b"selfie")
    assert "刷脸验证成功" in text(replies) and "已将结果告知" in text(replies)
    done = await handoffs(services).status("etax-demo", created.handoff.id)
    assert done is not None and done.state is HandoffState.DONE and done.result_jws
    assert verify(done.result_jws, handoffs(services).signer.public_key)["method"] == "face_stepup"
    # The step-up compared against the stored live face.
    (_, (_, _, references, _)) = next(c for c in verifier.calls if c[0] == "video")
    assert references == 1


async def test_stepup_for_another_document_fails(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    await collected_person(repos(services), client.user.id, valid_number(), "王小明")
    created = await new_handoff(services, expected_number="110105194912310037")
    replies = await client.send(f"/start {created.token}")
    replies = await press(client, replies, "确认，继续")
    assert "证件与网站要求办理的证件不一致" in text(replies)
    found = await handoffs(services).status("etax-demo", created.handoff.id)
    assert found is not None and found.failure == "document_mismatch"


async def test_failed_stepup_fails_the_handoff(
    client: BotClient, verifier: FakeVerifier, services: Services
) -> None:
    verifier.verdicts[b"selfie"] = verdict("review", distance=0.58)
    await collected_person(repos(services), client.user.id, valid_number(), "王小明")
    created = await new_handoff(services)
    replies = await client.send(f"/start {created.token}")
    await press(client, replies, "确认，继续")
    replies = await client.send_video(b"selfie")
    assert "刷脸验证未通过" in text(replies)
    found = await handoffs(services).status("etax-demo", created.handoff.id)
    assert found is not None and found.failure == "face_not_passed"


async def test_confirmation_answers_unexpected_input(client: BotClient, services: Services) -> None:
    created = await new_handoff(services)
    await client.send(f"/start {created.token}")
    replies = await client.send("你好")
    assert "确认，继续" in text(replies)
