"""Test doubles for the dialog layer: a scripted verifier, so dialog tests check the dialog's branching
fast; the real engines are exercised by the engine tests and by the end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from bot.services.verifier import Progress, ProgressReporter, VerificationUnavailable
from bot.verification.face import Action, FaceEncodingResult, FaceVerdict, LivenessResult
from bot.verification.idcard import BackFields, FrontFields, SideReading

# A valid fictitious number: region 110101, born 1990-03-07, male (odd 17th digit), check char computed.
ID_NUMBER = "110101199003071234"


def check_char(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def valid_number(first17: str = ID_NUMBER[:17]) -> str:
    return first17 + check_char(first17)


def front(number: str | None = None, **overrides: object) -> FrontFields:
    values: dict[str, object] = {
        "name": "王小明",
        "sex": "男",
        "ethnicity": "汉",
        "birth_date": date(1990, 3, 7),
        "address": "北京市东城区景山前街4号",
        "id_number": number or valid_number(),
    }
    values.update(overrides)
    return FrontFields(**values)  # type: ignore[arg-type]


def back(**overrides: object) -> BackFields:
    values: dict[str, object] = {
        "authority": "北京市公安局东城分局",
        "valid_from": date(2020, 5, 1),
        "valid_to": date(2040, 5, 1),
    }
    values.update(overrides)
    return BackFields(**values)  # type: ignore[arg-type]


PORTRAIT = b"\xff\xd8portrait-jpeg"
ENCODING = tuple(0.01 * i for i in range(128))
OTHER_ENCODING = tuple(-0.05 * i for i in range(128))


def verdict(
    decision: str = "pass",
    reasons: Sequence[str] = (),
    distance: float | None = 0.3,
    encoding: tuple[float, ...] = ENCODING,
    fingerprint: tuple[int, ...] = (),
) -> FaceVerdict:
    ok = decision != "fail"
    return FaceVerdict(
        decision=decision,  # type: ignore[arg-type]
        match_distance=distance,
        liveness=LivenessResult(passed=ok, actions=[], events=[], mirrored=None, reasons=list(reasons)),
        reasons=list(reasons),
        content_hash="x",
        live_encoding=encoding if ok else None,
        best_frame_jpeg=b"\xff\xd8live" if ok else None,
        review_frames_jpeg=[b"\xff\xd8r1"],
        fingerprint=fingerprint,
    )


@dataclass
class FakeVerifier:
    """Answers by the uploaded bytes: `readings[b"..."]`, `verdicts[b"..."]`. A card read or a video
    check given a reporter first reports `reports` in order, `report_gap` seconds apart (time for the
    dialog to show each), as a queue would."""

    readings: dict[bytes, SideReading] = field(default_factory=dict)
    verdicts: dict[bytes, FaceVerdict] = field(default_factory=dict)
    face_encodings: dict[bytes, tuple[float, ...] | None] = field(default_factory=dict)
    unavailable: bool = False
    calls: list[tuple[str, object]] = field(default_factory=list)
    waiting: int = 0
    reports: list[Progress] = field(default_factory=list)
    report_gap: float = 0.01
    encode_jobs: int = 0  # calls of ``encode_face`` (a job of its own), not the reading's own encoding

    async def _queue(self, progress: ProgressReporter | None) -> None:
        if progress is None:
            return
        for report in self.reports:
            await progress(report)
            await asyncio.sleep(self.report_gap)

    async def read_card_side(
        self, data: bytes, today: date, *, progress: ProgressReporter | None = None
    ) -> SideReading:
        self.calls.append(("read", data))
        await self._queue(progress)
        if self.unavailable:
            raise VerificationUnavailable("test")
        reading = self.readings.get(data, SideReading(side=None, problems=["idcard_not_found"]))
        if reading.portrait_jpeg is not None and reading.portrait_face is None:
            # The engines encode a front's portrait in the reading's own job: so does the fake
            # (logged as the encoding it is; no second call reaches ``encode_face``).
            self.calls.append(("encode", reading.portrait_jpeg))
            reading = replace(reading, portrait_face=self._encoded(reading.portrait_jpeg))
        return reading

    def _encoded(self, image: bytes) -> FaceEncodingResult:
        encoding = self.face_encodings.get(image, ENCODING)
        return FaceEncodingResult(
            encoding=encoding, reasons=[] if encoding else ["face_not_found"], faces=1 if encoding else 0
        )

    async def encode_face(
        self, image: bytes, *, progress: ProgressReporter | None = None
    ) -> FaceEncodingResult:
        self.calls.append(("encode", image))
        self.encode_jobs += 1
        return self._encoded(image)

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
        await self._queue(progress)
        if self.unavailable:
            raise VerificationUnavailable("test")
        if seen_before:
            return verdict("fail", ["video_already_submitted"])
        return self.verdicts.get(video, verdict("fail", ["liveness_no_action"]))


def front_reading(number: str | None = None, **overrides: object) -> SideReading:
    return SideReading(side="front", front=front(number, **overrides), portrait_jpeg=PORTRAIT)


def back_reading(**overrides: object) -> SideReading:
    return SideReading(side="back", back=back(**overrides))


@dataclass
class FakeSms:
    """Captures what would be sent; `code_for(phone)` reads the last code, as a user reads their SMS."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False

    async def send(self, phone: str, text: str) -> None:
        from bot.integrations.sms import SmsError

        if self.fail:
            raise SmsError("test")
        self.sent.append((phone, text))

    async def close(self) -> None:
        pass

    def code_for(self, phone: str) -> str:
        import re

        for number, text in reversed(self.sent):
            if number == phone:
                match = re.search(r"\b(\d{6})\b", text)
                assert match, text
                return match.group(1)
        raise AssertionError(f"no SMS to {phone}")


class EveryResidentKnown:
    """The sandbox registry for what it lists (permits, and residents a test loads, photo or not),
    and, for a resident ID it does not list, an authority that knows every resident but keeps no
    photo: dialog tests of other matters need not load each number they use. The identity tests
    (tests/hardening/test_attacks.py) use the plain registry, which refuses an unknown number."""

    def __init__(self, db: object, cipher: object) -> None:
        from bot.integrations.identity import SandboxIdentityAuthority
        from bot.storage.repositories.identity_registry import IdentityRegistryRepo

        self.registry = SandboxIdentityAuthority(db, cipher)  # type: ignore[arg-type]
        self._repo = IdentityRegistryRepo(db, cipher)  # type: ignore[arg-type]
        self.calls: list[tuple[str, str]] = []
        self.unavailable = False

    async def verify(
        self, doc_type: object, number: str, name: str, birth_date: date | None = None
    ) -> object:
        from bot.integrations.identity import IdentityCheck, IdentityUnavailable
        from bot.verification.ids import DocumentType

        self.calls.append((str(doc_type), number))
        if self.unavailable:
            raise IdentityUnavailable("test")
        listed = await self._repo.get(doc_type, number)  # type: ignore[arg-type]
        if listed is None and doc_type is DocumentType.RESIDENT_ID:
            return IdentityCheck(True)
        return await self.registry.verify(doc_type, number, name, birth_date)  # type: ignore[arg-type]

    async def close(self) -> None:
        pass
