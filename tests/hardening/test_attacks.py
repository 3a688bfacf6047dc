"""Issue 15's attacks, each stated and refused, through the real dispatcher on both record backends,
with the sandbox identity authority (the plain registry: an unknown number is refused), and the
unchanged happy paths beside them. (Self-approval, the fourth-eyes attack, is tested by the staff desk.)

Faces are scripted by who they are: ``front:<who>`` is a card whose portrait is ``<who>``'s face,
``selfie:<who>:<n>`` a new recording of ``<who>``, ``photo:<who>`` the authority's photo of ``<who>``;
the face decision is the real one (``bot.verification.face.match.decide``) over those encodings, so a
selfie matched against the wrong reference fails as it would with the engines.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import date
from itertools import count
from pathlib import Path

import pytest
from aiogram import Dispatcher

from bot.config import DEV_KEY, Settings
from bot.domain.identity import IdentityRecord
from bot.domain.models import ReviewKind
from bot.handlers.staff.review import case_text
from bot.integrations.identity import SandboxIdentityAuthority
from bot.services import Services
from bot.services.verifier import ProgressReporter
from bot.ui import Function, Go
from bot.verification.face import Action, FaceConfig, FaceEncodingResult, FaceVerdict
from bot.verification.face.match import decide, distance
from bot.verification.idcard import SideReading
from bot.verification.ids import DocumentType
from tests.helpers.client import BotClient, Reply
from tests.helpers.fakes import FakeSms, FakeVerifier, back_reading, front, valid_number, verdict
from tests.helpers.functions import press, repos, text
from tests.helpers.mocked_bot import MockedBot
from tests.helpers.postgres import database_url

__all__ = ["database_url"]  # both record backends, as the dialog tests

REPO_ROOT = Path(__file__).resolve().parents[2]

# The attacker's own card, and the victims the attacker would be collected as.
ATTACKER = {
    "id_number": valid_number("11010119900307123"),
    "name": "王小明",
    "sex": "男",
    "birth": "1990-03-07",
}
VICTIM = {
    "id_number": valid_number("11010119850615242"),
    "name": "李小红",
    "sex": "女",
    "birth": "1985-06-15",
}
VICTIM_M = {
    "id_number": valid_number("32010219781124155"),
    "name": "赵大伟",
    "sex": "男",
    "birth": "1978-11-24",
}


def _encoding(slot: int) -> tuple[float, ...]:
    return tuple(0.5 if i == slot else 0.0 for i in range(128))


FACES = {"attacker": _encoding(0), "victim": _encoding(1), "victim_m": _encoding(2)}
_uploads = count(1)


class FaceByWho(FakeVerifier):
    """Cards and faces scripted by who they show; the face decision computed from the references."""

    async def read_card_side(
        self, data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        self.calls.append(("read", data))
        if data.startswith(b"front:"):
            _, who, number, name, sex, birth = data.decode().split(":")
            fields = front(number, name=name, sex=sex, birth_date=date.fromisoformat(birth))
            return SideReading(side="front", front=fields, portrait_jpeg=f"portrait:{who}".encode())
        if data == b"back":
            return back_reading()
        return SideReading(side=None, problems=["idcard_not_found"])

    async def encode_face(
        self, image: bytes, *, progress: ProgressReporter | None = None
    ) -> FaceEncodingResult:
        self.calls.append(("encode", image))
        who = image.decode(errors="replace").split(":")[-1]
        encoding = FACES.get(who)
        return FaceEncodingResult(encoding=encoding, reasons=[] if encoding else ["face_not_found"], faces=1)

    async def verify_video(
        self,
        video: bytes,
        challenge: Sequence[Action],
        references: Sequence[Sequence[float]],
        *,
        seen_before: bool,
        progress: ProgressReporter | None = None,
    ) -> FaceVerdict:
        self.calls.append(("video", (video, list(challenge), len(references), seen_before)))
        live = FACES[video.decode().split(":")[1]]
        if not references:
            return verdict("pass", distance=None, encoding=live)
        dist = min(distance(live, ref) for ref in references)
        decision, reasons = decide(dist, FaceConfig())
        return verdict(decision, reasons, distance=dist, encoding=live)


def card(who: str, person: dict[str, str]) -> bytes:
    return f"front:{who}:{person['id_number']}:{person['name']}:{person['sex']}:{person['birth']}".encode()


def selfie(who: str) -> bytes:
    return f"selfie:{who}:{next(_uploads)}".encode()


@pytest.fixture
def verifier() -> FaceByWho:
    return FaceByWho()


@pytest.fixture
async def authority(services: Services) -> SandboxIdentityAuthority:
    """The plain sandbox registry (tests/helpers' dialog default knows every resident), with the
    production default of ``IDENTITY_PHOTO_REQUIRED`` (on; the dialog tests' settings turn it off)."""
    strict = SandboxIdentityAuthority(services.db, services.cipher)
    services.identity = strict
    services.settings.identity_photo_required = Settings.model_fields["identity_photo_required"].default
    return strict


async def register(services: Services, person: dict[str, str], photo_of: str | None) -> None:
    record = IdentityRecord(
        DocumentType.RESIDENT_ID,
        person["id_number"],
        person["name"],
        date.fromisoformat(person["birth"]),
        None if photo_of is None else f"photo:{photo_of}".encode(),
    )
    await repos(services).identity_registry.load([record], loaded_by=None)


def user(dp: Dispatcher, bot: MockedBot, user_id: int) -> BotClient:
    return BotClient(dp, bot, user_id=user_id)


async def to_verify(client: BotClient, photo: bytes) -> list[Reply]:
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(photo)
    assert "人像面识别完成" in text(replies), text(replies)
    replies = await press(client, replies, "确定")
    replies = await client.send_photo(b"back")
    assert "【信息核实】" in text(replies)
    return replies


async def correct(client: BotClient, replies: list[Reply], label: str, value: str) -> list[Reply]:
    replies = await press(client, replies, "修改" + label)
    return await client.send(value)


LABELS = {"id_number": "公民身份号码", "name": "姓名", "sex": "性别", "birth": "出生日期"}
LABELS_TO_FIELDS = {"id_number": "id_number", "name": "name", "sex": "sex", "birth": "birth_date"}


async def become(
    client: BotClient, replies: list[Reply], person: dict[str, str], fields: Sequence[str]
) -> list[Reply]:
    """Correct ``fields`` on 【信息核实】 to ``person``'s values (the number first)."""
    for field in fields:
        replies = await correct(client, replies, LABELS[field], person[field])
        assert "已更新" in text(replies), text(replies)
    assert "⚠️" not in text(replies), text(replies)
    return replies


async def to_face(client: BotClient, replies: list[Reply], sms: FakeSms) -> list[Reply]:
    """【下一步】 → consent → identity authority → phone + code → face agreement."""
    replies = await press(client, replies, "下一步")
    assert "《个人信息保护告知同意书》" in text(replies), text(replies)
    replies = await press(client, replies, "我已阅读并同意")
    assert "身份核验通过" in text(replies), text(replies)
    phone = f"139{client.user.id:08d}"[-11:]
    await client.send(phone)
    replies = await client.send(sms.code_for(phone))
    replies = await press(client, replies, "我已阅读并同意")
    assert "按顺序" in text(replies)
    return replies


async def collected(services: Services, person: dict[str, str]) -> bool:
    return (
        await repos(services).persons.find_by_document(DocumentType.RESIDENT_ID, person["id_number"])
        is not None
    )


async def victim_collects(
    dp: Dispatcher, bot: MockedBot, sms: FakeSms, services: Services, person: dict[str, str], who: str
) -> None:
    """The real person arrives with the genuine card: never "该证件已实名采集". Collected when the
    authority holds their photo; without one (IDENTITY_PHOTO_REQUIRED, the default) their own
    collection is a staff review case for that reason alone, not a conflict with the attacker."""
    real = user(dp, bot, 9000 + len(who))
    replies = await to_verify(real, card(who, person))
    replies = await to_face(real, replies, sms)
    replies = await real.send_video(selfie(who))
    assert "该证件已实名采集" not in text(replies)
    record = await repos(services).identity_registry.get(DocumentType.RESIDENT_ID, person["id_number"])
    if (record is not None and record.photo is not None) or not services.settings.identity_photo_required:
        assert "采集成功" in text(replies), text(replies)
        return
    (case,) = await repos(services).review.open_for_user(real.user.id)
    assert list(case.reasons) == ["review_no_authority_photo"] and case.person_id is None


# --- attack 1: takeover by correction -----------------------------------------------------------------

TAKEOVERS = [
    (VICTIM, ["id_number", "name", "sex", "birth"]),  # another person, every identity field
    (VICTIM_M, ["id_number", "name", "birth"]),  # same sex: three fields
]


@pytest.mark.parametrize(("victim", "fields"), TAKEOVERS)
async def test_takeover_by_correction_fails_against_the_authority_photo(
    client: BotClient,
    dp: Dispatcher,
    bot: MockedBot,
    sms: FakeSms,
    services: Services,
    authority: SandboxIdentityAuthority,
    victim: dict[str, str],
    fields: list[str],
) -> None:
    """Attack: own card, identity fields corrected to the victim's, own selfie. The authority holds
    the victim's photo: the selfie is matched against it and fails; nothing is saved."""
    who = "victim" if victim is VICTIM else "victim_m"
    await register(services, ATTACKER, None)
    await register(services, victim, who)
    replies = await to_verify(client, card("attacker", ATTACKER))
    replies = await become(client, replies, victim, fields)
    replies = await to_face(client, replies, sms)
    for _ in range(services.settings.max_step_retries):
        replies = await client.send_video(selfie("attacker"))
        assert "采集成功" not in text(replies) and "人脸识别未通过" in text(replies)
    assert not await collected(services, victim)
    assert await repos(services).review.open_for_user(client.user.id) == []
    # The failed attempts paused the victim's document as well (the pause belongs to the person, so a
    # new account cannot try again at once, issue 16): staff lift it once they know who is calling.
    pauses = repos(services).face_pauses
    doc = pauses.document_key(DocumentType.RESIDENT_ID, victim["id_number"])
    assert await pauses.paused_until([doc]) is not None
    await pauses.lift([doc], doc, staff_user_id=1)
    await victim_collects(dp, bot, sms, services, victim, who)


@pytest.mark.parametrize(("victim", "fields"), TAKEOVERS)
async def test_takeover_by_correction_without_authority_photo_is_a_review_case(
    client: BotClient,
    dp: Dispatcher,
    bot: MockedBot,
    sms: FakeSms,
    services: Services,
    authority: SandboxIdentityAuthority,
    victim: dict[str, str],
    fields: list[str],
) -> None:
    """Attack: the same, the authority confirming number and name but keeping no photo. A number +
    name match is no proof (anyone knowing both types them): a staff review case that shows the read
    and the typed values (masked) and the photos; nothing is saved, the victim is not blocked."""
    who = "victim" if victim is VICTIM else "victim_m"
    await register(services, victim, None)
    replies = await to_verify(client, card("attacker", ATTACKER))
    replies = await become(client, replies, victim, fields)
    replies = await to_face(client, replies, sms)
    replies = await client.send_video(selfie("attacker"))
    assert "采集成功" not in text(replies) and "人工核对" in text(replies), text(replies)
    assert not await collected(services, victim)
    (case,) = await repos(services).review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.IDENTITY_UNVERIFIED
    assert "review_identity_corrected" in case.reasons
    corrections = {c["field"]: c for c in case.payload["card"]["corrections"]}
    assert set(corrections) == set(LABELS_TO_FIELDS[f] for f in fields)
    assert corrections["id_number"]["read"] == ATTACKER["id_number"]
    assert corrections["id_number"]["typed"] == victim["id_number"]
    assert any(m.startswith("idcard_portrait") for m in case.media_ids)
    assert any(m.startswith("live_photo") for m in case.media_ids)
    shown = case_text(services.catalog.translator("zh_CN"), case, 0)
    assert "识别 → 填写" in shown
    assert ATTACKER["id_number"] not in shown and victim["id_number"] not in shown  # masked
    assert victim["id_number"][:3] in shown and victim["id_number"][-4:] in shown
    await victim_collects(dp, bot, sms, services, victim, who)


async def test_corrected_number_on_a_drawn_card_cannot_pass(
    client: BotClient, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority
) -> None:
    """A card drawn on a computer with the attacker's face, its number then corrected to the
    victim's (with a photo on file, and without): never saved."""
    await register(services, VICTIM, None)
    drawn = card("attacker", {**VICTIM, "id_number": valid_number("11010119850615240")})
    replies = await to_verify(client, drawn)
    replies = await become(client, replies, VICTIM, ["id_number"])
    replies = await to_face(client, replies, sms)
    replies = await client.send_video(selfie("attacker"))
    assert "采集成功" not in text(replies)
    assert not await collected(services, VICTIM)


async def test_drawn_card_without_authority_photo_goes_to_review_when_photos_are_required(
    client: BotClient,
    dp: Dispatcher,
    bot: MockedBot,
    sms: FakeSms,
    services: Services,
    authority: SandboxIdentityAuthority,
) -> None:
    """A drawn card naming the victim, uncorrected, with the attacker's portrait: with the victim's
    photo on file the selfie fails; with none, IDENTITY_PHOTO_REQUIRED sends it to a person."""
    await register(services, VICTIM, "victim")
    replies = await to_verify(client, card("attacker", VICTIM))
    replies = await to_face(client, replies, sms)
    replies = await client.send_video(selfie("attacker"))
    assert "人脸识别未通过" in text(replies)
    await register(services, VICTIM, None)
    services.settings.identity_photo_required = True
    other = user(dp, bot, client.user.id + 1)
    replies = await to_verify(other, card("attacker", VICTIM))
    replies = await to_face(other, replies, sms)
    replies = await other.send_video(selfie("attacker"))
    assert "采集成功" not in text(replies)
    (case,) = await repos(services).review.open_for_user(other.user.id)
    assert case.reasons[0] == "review_no_authority_photo"
    assert not await collected(services, VICTIM)


async def test_unknown_number_is_refused_by_the_authority(
    client: BotClient, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority
) -> None:
    replies = await to_verify(client, card("attacker", ATTACKER))  # not in the registry
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "我已阅读并同意")
    assert "身份验证失败" in text(replies) and "手机号码" not in text(replies)
    replies = await press(client, replies, "返回")
    assert "【信息核实】" in text(replies)


async def test_authority_unreachable_is_try_again_later_or_a_review_case(
    client: BotClient, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority
) -> None:
    """Never a silent pass: "try again later" (retry), or by setting a review case."""
    from bot.integrations.identity import IdentityUnavailable

    async def down(*_: object, **__: object) -> None:
        raise IdentityUnavailable("test")

    await register(services, ATTACKER, None)
    authority.verify = down  # type: ignore[method-assign, assignment]
    replies = await to_verify(client, card("attacker", ATTACKER))
    replies = await press(client, replies, "下一步")
    replies = await press(client, replies, "我已阅读并同意")
    assert "稍后" in text(replies) and "手机号码" not in text(replies)
    services.settings.identity_unavailable_review = True
    replies = await press(client, replies, "重试")
    assert "人工核对" in text(replies)
    phone = "13900001234"
    await client.send(phone)
    replies = await client.send(sms.code_for(phone))
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(selfie("attacker"))
    assert "采集成功" not in text(replies)
    (case,) = await repos(services).review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.IDENTITY_UNVERIFIED and "review_authority_unavailable" in case.reasons


# --- the happy paths, unchanged ---------------------------------------------------------------------


@pytest.mark.parametrize("photo", [True, False])
async def test_own_card_is_collected_with_and_without_an_authority_photo(
    client: BotClient, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority, photo: bool
) -> None:
    """With the authority's photo: self-service. Without one: by default a staff review case (see
    test_identity_desk.py); where the bureau accepts the card portrait (the setting off), saved."""
    if not photo:
        services.settings.identity_photo_required = False
    await register(services, ATTACKER, "attacker" if photo else None)
    replies = await to_verify(client, card("attacker", ATTACKER))
    replies = await correct(client, replies, "住址", "北京市东城区景山前街5号")  # self-service
    replies = await to_face(client, replies, sms)
    replies = await client.send_video(selfie("attacker"))
    assert "采集成功" in text(replies), text(replies)
    video = next(c for c in reversed(client_calls(services)) if c[0] == "video")
    assert video[1][2] == 1  # one reference: the authority's photo, else the card portrait
    person = await repos(services).persons.find_by_document(DocumentType.RESIDENT_ID, ATTACKER["id_number"])
    assert person is not None and person.document.address == "北京市东城区景山前街5号"
    (row,) = [
        e
        for e in await repos(services).audit.for_subject("person", person.id)
        if e.action == "person.collect"
    ]
    assert row.after is not None and row.after["corrections"][0]["field"] == "address"
    assert "景山前街5号" not in str(row.after)  # masked


def client_calls(services: Services) -> list[tuple[str, object]]:
    return list(services.verifier.calls)


async def test_misread_number_corrected_is_saved_when_the_authority_photo_matches(
    client: BotClient, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority
) -> None:
    """A genuine misread: the number corrected to the person's own, the authority's photo of that
    number is the selfie's face, the portrait too: saved, the correction in the audit row, masked."""
    await register(services, ATTACKER, "attacker")
    misread = card("attacker", {**ATTACKER, "id_number": valid_number("11010119900307128")})
    replies = await to_verify(client, misread)
    replies = await become(client, replies, ATTACKER, ["id_number"])
    replies = await to_face(client, replies, sms)
    replies = await client.send_video(selfie("attacker"))
    assert "采集成功" in text(replies), text(replies)
    person = await repos(services).persons.find_by_document(DocumentType.RESIDENT_ID, ATTACKER["id_number"])
    assert person is not None
    (row,) = [
        e
        for e in await repos(services).audit.for_subject("person", person.id)
        if e.action == "person.collect"
    ]
    assert row.after is not None
    (entry,) = row.after["corrections"]
    assert entry["field"] == "id_number" and ATTACKER["id_number"] not in str(row.after)


# --- attack 3: probing --------------------------------------------------------------------------------


async def test_probing_numbers_gets_the_same_answer_until_the_face_check(
    dp: Dispatcher, bot: MockedBot, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority
) -> None:
    """Attack: on 【信息核实】 change the number to a collected one and to an uncollected one and press
    【下一步】: both answers are the same; "already collected" comes only after the face check and
    only to that record's face (the prober's face makes it a review case instead)."""
    await register(services, VICTIM, None)
    await register(services, VICTIM_M, None)
    # The victim collected where the card portrait is accepted (no photo on file, the setting off);
    # the probers meet the default.
    services.settings.identity_photo_required = False
    await victim_collects(dp, bot, sms, services, VICTIM, "victim")
    services.settings.identity_photo_required = True
    answers = []
    for n, target in enumerate((VICTIM, VICTIM_M)):
        prober = user(dp, bot, 4000 + n)
        replies = await to_verify(prober, card("attacker", ATTACKER))
        replies = await become(prober, replies, target, ["id_number", "name", "sex", "birth"])
        replies = await press(prober, replies, "下一步")
        answers.append(new_messages(replies))
        assert "该证件已实名采集" not in text(replies)
        replies = await press(prober, replies, "我已阅读并同意")
        answers.append(new_messages(replies))
    assert answers[0] == answers[2] and answers[1] == answers[3]
    prober = user(dp, bot, 4000)
    phone = "13900004000"
    await prober.send(phone)
    replies = await prober.send(sms.code_for(phone))
    replies = await press(prober, replies, "我已阅读并同意")
    replies = await prober.send_video(selfie("attacker"))
    assert "该证件已实名采集" not in text(replies)
    (case,) = await repos(services).review.open_for_user(prober.user.id)
    assert case.kind is ReviewKind.SAME_NUMBER_OTHER_FACE
    assert case.person_id is not None


def new_messages(replies: list[Reply]) -> str:
    """What the step answers (the edit masking the prober's own earlier screen aside)."""
    return text([r for r in replies if r.method.__class__.__name__ != "EditMessageText"])


async def test_number_edits_are_limited_per_account_and_per_number(
    dp: Dispatcher, bot: MockedBot, services: Services, authority: SandboxIdentityAuthority
) -> None:
    limit = services.settings.number_edit_limit
    prober = user(dp, bot, 4100)
    replies = await to_verify(prober, card("attacker", ATTACKER))
    for i in range(limit):
        replies = await correct(prober, replies, "公民身份号码", valid_number(f"1101011990030{7100 + i}"))
        assert "已更新" in text(replies), text(replies)
    replies = await correct(prober, replies, "公民身份号码", VICTIM["id_number"])
    assert "次数过多" in text(replies) and "已更新" not in text(replies)
    # Other accounts typing one number: that number pauses, whoever types it.
    for n in range(limit):
        other = user(dp, bot, 4200 + n)
        replies = await to_verify(other, card("attacker", ATTACKER))
        replies = await correct(other, replies, "公民身份号码", VICTIM_M["id_number"])
        assert "已更新" in text(replies)
    last = user(dp, bot, 4300)
    replies = await to_verify(last, card("attacker", ATTACKER))
    replies = await correct(last, replies, "公民身份号码", VICTIM_M["id_number"])
    assert "次数过多" in text(replies)


# --- attack 4: weak keys --------------------------------------------------------------------------------


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "ENCRYPTION", "SANDBOX", "WEBHOOK_", "REDIS"))
    }
    clean.update(env, PYTHONPATH=str(REPO_ROOT), DATA_DIR=str(tmp_path))
    # cwd outside the repository: a developer's .env must not configure the process
    return subprocess.run(
        [sys.executable, *args],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


WEAK_KEYS = {
    "development key": b64(DEV_KEY),
    "32 zero bytes": b64(bytes(32)),
    "short": b64(os.urandom(16)),
    "repeated pattern": b64(b"abcd" * 8),
    "not base64": "not-a-key!",
}


@pytest.mark.parametrize("key", list(WEAK_KEYS.values()), ids=list(WEAK_KEYS))
def test_weak_keys_are_refused_outside_the_sandbox(tmp_path: Path, key: str) -> None:
    done = _run(["-m", "bot"], {"BOT_TOKEN": "123456:real-looking-token", "ENCRYPTION_KEY": key}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "configuration error" in done.stderr and "Traceback" not in done.stderr
    assert key not in done.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["-m", "bot"], {"ENCRYPTION_KEY": b64(hashlib.sha256(b"k").digest())}),  # no token: no sandbox
        (["-m", "bot"], {"BOT_TOKEN": "123456:real-looking-token"}),  # no key
        (["-m", "bot.worker"], {"REDIS_URL": "redis://127.0.0.1:1/0"}),  # the worker needs the key
        (["-m", "bot", "rotate-keys"], {}),  # and rotate-keys
    ],
    ids=["no-token", "no-key", "worker", "rotate-keys"],
)
def test_missing_token_or_key_is_a_configuration_error(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    done = _run(args, env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "configuration error" in done.stderr and "Traceback" not in done.stderr
    assert ("BOT_TOKEN" if "ENCRYPTION_KEY" in env else "ENCRYPTION_KEY") in done.stderr


def test_a_strong_key_is_accepted() -> None:
    from bot.config import Settings

    key = b64(hashlib.sha256(b"a strong test key").digest())
    settings = Settings(_env_file=None, bot_token="123456:token", encryption_key=key)  # type: ignore[call-arg, arg-type]
    assert settings.mode == "polling" and len(settings.encryption_keys()[0]) == 1
