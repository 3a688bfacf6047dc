"""Issue 15, what remained: the no-photo path safe by default, the authority asked by 补录's on-site
photo, and the registry's photos in a ZIP beside the table (with its size and bomb limits). Through
the real dispatcher on both record backends, faces scripted by who they show (test_attacks.py).
"""

from __future__ import annotations

import base64
import io
import os
import zipfile
from datetime import UTC, date, datetime

import pytest

from bot.config import Settings
from bot.domain.models import ReviewKind
from bot.integrations.identity import (
    DEMO_PHOTOS,
    IdentityReason,
    SandboxIdentityAuthority,
    demo_identities,
)
from bot.services import Services
from bot.services.registers import (
    MAX_PHOTO_BYTES,
    ZIP_MAX_MEMBERS,
    RegisterError,
    read_bundle,
    validate_register,
)
from bot.ui import Function, Go
from bot.verification.ids import DocumentType
from tests.hardening.test_attacks import (
    ATTACKER,
    VICTIM,
    FaceByWho,
    authority,
    card,
    collected,
    register,
    selfie,
    to_face,
    to_verify,
    verifier,
)
from tests.helpers.client import BotClient
from tests.helpers.fakes import FakeSms
from tests.helpers.functions import press, repos, text
from tests.helpers.postgres import database_url
from tests.helpers.register import collected_person
from tests.helpers.staff import admin, settings

# Fixtures: both record backends, the plain registry, faces by who, an admin for the console.
__all__ = ["admin", "authority", "database_url", "settings", "verifier"]

TODAY = date(2026, 11, 20)
JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 20


# --- the no-photo path, by default ---------------------------------------------------------------


async def test_drawn_card_naming_a_victim_without_an_authority_photo_is_a_review_case(
    client: BotClient, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority
) -> None:
    """Attack: a card drawn on a computer with the victim's number and name and the attacker's
    portrait, nothing corrected, the authority confirming number and name but keeping no photo.
    The card portrait matches the selfie, so only the default (IDENTITY_PHOTO_REQUIRED on) stops
    it: a staff review case with the card photos and the live photo, never the record."""
    assert Settings.model_fields["identity_photo_required"].default is True
    await register(services, VICTIM, None)
    replies = await to_verify(client, card("attacker", VICTIM))
    replies = await to_face(client, replies, sms)
    replies = await client.send_video(selfie("attacker"))
    assert "采集成功" not in text(replies)
    assert not await collected(services, VICTIM)
    (case,) = await repos(services).review.open_for_user(client.user.id)
    assert case.kind is ReviewKind.IDENTITY_UNVERIFIED
    assert case.reasons[0] == "review_no_authority_photo"
    kinds = {m.rsplit("-", 1)[0] for m in case.media_ids}
    assert {"idcard_front", "idcard_back", "idcard_portrait", "live_photo"} <= kinds


async def test_own_card_with_the_authority_photo_is_still_self_service(
    client: BotClient, sms: FakeSms, services: Services, authority: SandboxIdentityAuthority
) -> None:
    await register(services, ATTACKER, "attacker")
    replies = await to_verify(client, card("attacker", ATTACKER))
    replies = await to_face(client, replies, sms)
    replies = await client.send_video(selfie("attacker"))
    assert "采集成功" in text(replies), text(replies)


# --- 补录 of the on-site photo asks the authority -----------------------------------------------------

GO = Go(func=Function.SUPPLEMENT).pack()


async def _supplement_photo(client: BotClient, services: Services, who: str) -> str:
    await collected_person(
        repos(services), client.user.id, VICTIM["id_number"], VICTIM["name"], with_live_photo=False
    )
    replies = await client.press(GO)
    assert "缺少现场照片" in text(replies)
    replies = await press(client, replies, "确定")
    body = text(replies)
    if "《人脸识别服务协议》" not in body:
        return body
    replies = await press(client, replies, "我已阅读并同意")
    replies = await client.send_video(selfie(who))
    return text(replies)


async def test_supplement_photo_is_matched_against_the_authority_photo(
    client: BotClient, services: Services, authority: SandboxIdentityAuthority, verifier: FaceByWho
) -> None:
    """Attack: someone holding the account of a collected person without an on-site photo sends
    their own face. The authority's photo of that person is the reference: refused."""
    await register(services, VICTIM, "victim")
    body = await _supplement_photo(client, services, "attacker")
    assert "实名信息补采保存成功" not in body
    person = await repos(services).persons.find_by_telegram(client.user.id)
    assert person is not None and person.live_photo is None
    assert any(c[0] == "encode" and c[1] == b"photo:victim" for c in verifier.calls)


async def test_supplement_photo_of_the_person_is_saved(
    client: BotClient, services: Services, authority: SandboxIdentityAuthority, verifier: FaceByWho
) -> None:
    await register(services, VICTIM, "victim")
    body = await _supplement_photo(client, services, "victim")
    assert "实名信息补采保存成功" in body, body
    person = await repos(services).persons.find_by_telegram(client.user.id)
    assert person is not None and person.live_photo is not None
    (video,) = [c for c in verifier.calls if c[0] == "video"]
    assert video[1][2] == 1  # type: ignore[index]  # the authority's photo


async def test_supplement_photo_without_an_authority_photo_is_a_review_case(
    client: BotClient, services: Services, authority: SandboxIdentityAuthority
) -> None:
    await register(services, VICTIM, None)
    body = await _supplement_photo(client, services, "victim")
    assert "实名信息补采保存成功" not in body
    (case,) = await repos(services).review.open_for_user(client.user.id)
    assert "review_no_authority_photo" in case.reasons
    assert case.payload["flow"] == "supplement" and case.payload["path"] == "photo"


async def test_supplement_photo_of_an_identity_the_authority_refuses(
    client: BotClient, services: Services, authority: SandboxIdentityAuthority
) -> None:
    body = await _supplement_photo(client, services, "victim")  # not in the registry
    assert "身份验证失败" in body and "《人脸识别服务协议》" not in body
    events = await repos(services).events.between(
        datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )
    assert any(e.reason_code == IdentityReason.NOT_FOUND.value for e in events)


# --- the registry's photos in a ZIP ----------------------------------------------------------------


def _zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


TABLE = (
    "doc_type,number,name,birth_date,photo\n"
    f"resident_id,{VICTIM['id_number']},{VICTIM['name']},{VICTIM['birth']},photos/victim.jpg\n"
    f"resident_id,{ATTACKER['id_number']},{ATTACKER['name']},{ATTACKER['birth']},\n"
).encode()


def test_zip_photos_by_name_and_by_number() -> None:
    bundle = read_bundle(
        _zip(
            {
                "registry.csv": TABLE,
                "photos/victim.jpg": JPEG + b"v",
                f"{ATTACKER['id_number']}.jpg": JPEG + b"a",
                "__MACOSX/._registry.csv": b"junk",
            }
        )
    )
    report = validate_register(bundle.table, today=TODAY, max_rows=10, photos=bundle.photos)
    assert not report.rejected
    photos = {r["number"]: base64.b64decode(r["photo"]) for r in report.accepted}
    assert photos == {VICTIM["id_number"]: JPEG + b"v", ATTACKER["id_number"]: JPEG + b"a"}


def test_zip_row_naming_a_missing_or_non_image_photo_is_rejected() -> None:
    bundle = read_bundle(_zip({"registry.csv": TABLE, "photos/victim.jpg": b"not an image"}))
    report = validate_register(bundle.table, today=TODAY, max_rows=10, photos=bundle.photos)
    assert [r.reasons for r in report.rejected] == [("register_photo",)]
    assert [r["photo"] for r in report.accepted] == [None]  # the other row: no photo, accepted


@pytest.mark.parametrize(
    ("members", "code"),
    [
        # A bomb: 30 MB of zeros compress to a few KB (the ratio gives it away).
        ({"registry.csv": TABLE, "bomb.jpg": b"\0" * (30 * 1024 * 1024)}, "register_zip_too_large"),
        ({"registry.csv": TABLE, "big.jpg": JPEG + bytes(MAX_PHOTO_BYTES)}, "register_zip_too_large"),
        ({"registry.csv": TABLE, "inner.zip": _zip({"a.jpg": JPEG})}, "register_zip_unexpected_file"),
        ({"registry.csv": TABLE, "run.sh": b"echo"}, "register_zip_unexpected_file"),
        ({"a.csv": TABLE, "b.csv": TABLE}, "register_zip_two_tables"),
        ({"a.jpg": JPEG}, "register_zip_no_table"),
        ({"registry.csv": TABLE, "x/a.jpg": JPEG, "y/A.JPG": JPEG}, "register_zip_duplicate_photo"),
    ],
)
def test_zip_limits(members: dict[str, bytes], code: str) -> None:
    with pytest.raises(RegisterError) as refused:
        read_bundle(_zip(members))
    assert refused.value.code == code


def test_zip_with_a_forged_size_in_its_header_is_refused() -> None:
    """A member whose header claims 100 bytes while it holds 3 MB: read in bounded chunks, never
    trusted by its header, and refused (the CRC or the limit gives it away)."""
    data = bytearray(_zip({"registry.csv": TABLE, "a.jpg": JPEG + os.urandom(3 * 1024 * 1024)}))
    central = bytes(data).find(b"PK\x01\x02")
    name = bytes(data).find(b"a.jpg", central)
    header = name - 46  # the central directory entry: its uncompressed size at offset 24
    data[header + 24 : header + 28] = (100).to_bytes(4, "little")
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("a.jpg").file_size == 100
    with pytest.raises(RegisterError):
        read_bundle(bytes(data))


def test_zip_with_too_many_members_or_encrypted_or_garbage() -> None:
    many = {f"{i}.jpg": JPEG for i in range(ZIP_MAX_MEMBERS + 1)}
    with pytest.raises(RegisterError) as refused:
        read_bundle(_zip({"registry.csv": TABLE, **many}, compression=zipfile.ZIP_STORED))
    assert refused.value.code == "register_zip_too_many_files"
    data = bytearray(_zip({"registry.csv": TABLE}))
    first = data.find(b"PK\x01\x02")
    data[first + 8] |= 0x1  # the central directory says: encrypted
    with pytest.raises(RegisterError) as refused:
        read_bundle(bytes(data))
    assert refused.value.code == "register_zip_encrypted"
    with pytest.raises(RegisterError) as refused:
        read_bundle(b"PK\x03\x04 not a zip at all")
    assert refused.value.code == "register_unreadable"


async def test_admin_loads_a_registry_zip_through_the_console(admin: BotClient, services: Services) -> None:
    bundle = _zip({"registry.csv": TABLE, "photos/victim.jpg": JPEG + b"v"})
    replies = await admin.send_document(bundle, "registry.zip")
    assert "可导入 2 行" in text(replies), text(replies)
    replies = await press(admin, replies, "确认导入")
    assert "已导入 2 行" in text(replies), text(replies)
    record = await repos(services).identity_registry.get(DocumentType.RESIDENT_ID, VICTIM["id_number"])
    assert record is not None and record.photo == JPEG + b"v"
    other = await repos(services).identity_registry.get(DocumentType.RESIDENT_ID, ATTACKER["id_number"])
    assert other is not None and other.photo is None


async def test_registry_zip_bomb_through_the_console_loads_nothing(
    admin: BotClient, services: Services
) -> None:
    bomb = _zip({"registry.csv": TABLE, "bomb.jpg": b"\0" * (30 * 1024 * 1024)})
    replies = await admin.send_document(bomb, "registry.zip")
    assert "ZIP 文件过大" in text(replies), text(replies)
    assert await repos(services).identity_registry.count() == 0


# --- the sandbox's demo identities carry photos ------------------------------------------------------


def test_demo_identities_have_the_photos_of_their_cards() -> None:
    records = demo_identities()
    assert DEMO_PHOTOS.exists() and records
    assert all(r.photo is not None and r.photo.startswith(b"\xff\xd8") for r in records)
    with zipfile.ZipFile(DEMO_PHOTOS) as archive:
        assert sorted(n.removesuffix(".jpg") for n in archive.namelist()) == sorted(r.number for r in records)
