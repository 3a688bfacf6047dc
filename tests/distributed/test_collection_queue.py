"""实名信息采集 on the multi-machine deployment: two webhook replicas (processes) behind a round-robin
proxy, the FSM in Redis, and the OCR and face engines in one `python -m bot.worker` process fed by the
arq queue in Redis (issue 10, items 4 and 6).

The user walks the whole dialog through the sandbox: ID card front and back read by the worker, the
【信息核实】 screen, the consent, phone + SMS code, the face agreement and, when the public test data is
there, a selfie video matched by the worker against the card's portrait, to "采集成功" and the saved
record. Every step goes to the other replica than the one before (the photo steps included: front on
one, back on the other), so nothing can live in a replica's memory; each verification's progress message
must be edited, in place, into its result (the sandbox's event stream shows every state it went through).

Records: in the replicas' shared SQLite file, and in PostgreSQL (``DATABASE_URL``; a fresh database
of the session's throwaway server, tests/helpers/postgres.py), where the saved person is then looked up.

The card is composed at test time (fictitious identity, portrait = a frame of a public test clip's man,
see tests/e2e/cards.py) when ../shared/testdata is there; otherwise a generated fixture card is used and
the walk stops at the selfie prompt (nothing may be saved before the last step).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.domain.masking import mask_id_number
from bot.storage.crypto import FieldCipher
from bot.storage.factory import open_database
from bot.storage.repositories import Repositories
from bot.verification.ids import DocumentType
from tests import conftest as shared
from tests.e2e.cards import SELFIE, compose_card_photos
from tests.e2e.test_collect_e2e import ZH
from tests.helpers.factory import make_settings
from tests.helpers.postgres import database_url
from tests.helpers.sandbox_user import ChatLog, SandboxUser, texts

from .cluster import TEST_KEY, Cluster, webhook_cluster
from .conftest import QUEUE, WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["database_url"]  # records on both backends

FIXTURE_CARDS = Path(__file__).resolve().parents[1] / "fixtures" / "idcards"
PHONE = "13800138000"
# What the selfie clip shows, in order (tests/e2e/cards.py); the replicas pin the challenge to it.
CHALLENGE = "open_mouth,blink"


@dataclass(frozen=True)
class Card:
    front: bytes
    back: bytes
    id_number: str
    selfie: bytes | None  # a recording of the portrait's man, when the public test data is there


@pytest.fixture(scope="module")
def card() -> Card:
    root = shared.testdata_root()
    if root is not None:
        try:
            front, back, identity = compose_card_photos(root)
            return Card(front, back, identity.id_number, (root / SELFIE).read_bytes())
        except pytest.skip.Exception:  # no CJK font to compose with: the fixture card still walks
            pass
    truth = json.loads((FIXTURE_CARDS / "truth.json").read_text(encoding="utf-8"))
    fixture = truth["cards"]["upside_down_long_term"]
    return Card(
        (FIXTURE_CARDS / fixture["front"]).read_bytes(),
        (FIXTURE_CARDS / fixture["back"]).read_bytes(),
        fixture["fields"]["id_number"],
        None,
    )


class Walk:
    """One user's steps, each checked to have been served by exactly one replica, which is noted."""

    def __init__(self, cluster: Cluster, user: SandboxUser) -> None:
        self.proxy, self.user = cluster.proxy, user
        self.served_by: list[tuple[str, int]] = []

    async def step(self, name: str, action: Awaitable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        before = len(self.proxy.served)
        replies = await action
        assert len(self.proxy.served) == before + 1, (name, self.proxy.served[before:])
        self.served_by.append((name, self.proxy.served[-1]))
        return replies

    def replica_of(self, name: str) -> int:
        return next(replica for step, replica in self.served_by if step == name)


async def edited_into(log: ChatLog, replies: list[dict[str, Any]], result: str) -> list[str]:
    """The message of these replies that now shows `result`: it must be an edited one, and the states
    it went through (first the progress text, last the result) are returned."""
    shown = [r for r in replies if r.get("text") == result]
    assert len(shown) == 1, texts(replies)
    assert shown[0]["edited"], shown[0]  # the progress message itself, not a new message
    versions = await log.wait_for(shown[0]["message_id"], result)
    assert versions[-1] == result and len(versions) >= 2, versions
    return versions


async def test_collection_on_two_replicas_with_a_worker(
    tmp_path: Path, redis_url: str, worker: WorkerProcess, card: Card, database_url: str | None
) -> None:
    env = {
        **({"DATABASE_URL": database_url} if database_url else {}),
        "REDIS_URL": redis_url,  # the FSM (and the per-user event lock) in Redis
        "VERIFICATION_MODE": "queue",
        "VERIFICATION_QUEUE_NAME": QUEUE,  # served by the session's worker process
        "TEST_LIVENESS_CHALLENGE": CHALLENGE,
    }
    async with webhook_cluster(tmp_path, env) as cluster:
        user = cluster.user(9301)
        walk = Walk(cluster, user)
        async with user.chat_log() as log:
            home = await walk.step("start", user.send("/start"))
            tip = await walk.step("menu", user.press_label(home, ZH["collect"]))
            choose = await walk.step("tip", user.press_label(tip, ZH["start"]))
            prompt = await walk.step("document", user.press_label(choose, ZH["id_card"]))
            assert ZH["front"] in texts(prompt), texts(prompt)

            replies = await walk.step("front", user.upload("photo", card.front, "front.jpg"))
            front = await edited_into(log, replies, "✅ 人像面识别完成。")
            assert any(s in front[0] for s in ("正在识别证件", "正在排队")), front
            assert any(r.get("photo") for r in replies)  # the portrait the worker cropped, shown back
            # a word instead of a button at the portrait: asked again (and the back photo goes to the
            # other replica than the front one)
            replies = await walk.step("portrait?", user.send("好的"))
            assert "请使用按钮确认头像" in texts(replies), texts(replies)
            replies = await walk.step("portrait", user.press_label(replies, ZH["ok"]))
            assert "国徽面" in texts(replies), texts(replies)

            replies = await walk.step("back", user.upload("photo", card.back, "back.jpg"))
            await edited_into(log, replies, "✅ 国徽面识别完成。")
            assert ZH["verify"] in texts(replies), texts(replies)
            assert "⚠️" not in texts(replies), texts(replies)  # every field read and valid

            replies = await walk.step("verify", user.press_label(replies, ZH["next"]))
            replies = await walk.step("consent", user.press_label(replies, ZH["agree"]))
            assert "手机号码" in texts(replies), texts(replies)
            replies = await walk.step("phone", user.send(PHONE))
            sms = (await user.sms(PHONE))[-1]["text"]
            code = "".join(ch for ch in sms if ch.isdigit())[:6]
            replies = await walk.step("code", user.send(code))
            assert "验证成功" in texts(replies), texts(replies)
            replies = await walk.step("face consent", user.press_label(replies, ZH["agree"]))
            assert ZH["challenge"] in texts(replies), texts(replies)
            # the challenge pinned to what the clip shows: 1. open the mouth, 2. blink
            assert texts(replies).index("张张嘴") < texts(replies).index("眨眨眼"), texts(replies)

            if card.selfie is not None:
                replies = await walk.step("selfie", user.upload("video_note", card.selfie, "selfie.mp4"))
                assert ZH["success"] in texts(replies), texts(replies)
                face = await edited_into(log, replies, "✅ 人脸识别通过。")
                assert any(s in face[0] for s in ("正在进行人脸识别", "正在排队")), face

            mine = await walk.step("mydata", user.send("/mydata"))
            if card.selfie is not None:
                assert mask_id_number(card.id_number) in texts(mine), texts(mine)
                assert "现场照片：已保存" in texts(mine), texts(mine)
            else:
                assert "本系统没有保存您的实名信息" in texts(mine), texts(mine)

        steps = [replica for _, replica in walk.served_by]
        # round robin over two: every step on the other replica than the step before it
        assert all(a != b for a, b in itertools.pairwise(steps)), walk.served_by
        assert walk.replica_of("front") != walk.replica_of("back"), walk.served_by
        if card.selfie is not None:
            assert {walk.replica_of(s) for s in ("front", "back", "selfie")} == {0, 1}
        assert all(r.proc is not None and r.proc.returncode is None for r in cluster.replicas), (
            cluster.log_tail()
        )
    if database_url is not None:
        await _saved_in_postgres(database_url, card)


async def _saved_in_postgres(url: str, card: Card) -> None:
    """The record went to the PostgreSQL both replicas share, found by its number like any look-up."""
    settings = make_settings(Path("unused"), encryption_key=TEST_KEY, database_url=url)
    masters, current, index_master = settings.encryption_keys()
    cipher = FieldCipher.from_masters(masters, current=current, index_master=index_master)
    db = await open_database(settings.db_path, url=url)
    try:
        persons = Repositories(db, cipher).persons
        person = await persons.find_by_document(DocumentType.RESIDENT_ID, card.id_number)
        if card.selfie is None:
            assert person is None  # nothing is saved before the last step
        else:
            assert person is not None and person.document.number == card.id_number
    finally:
        await db.close()
