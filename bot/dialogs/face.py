"""Face check, a sub-dialog: 《人脸识别服务协议》 → liveness challenge → selfie video → verdict.

Called with a :class:`~bot.dialogs.calls.FaceCheck` (the reference encodings: the ID portrait, the
authority's photo, the stored live face, or none for liveness only; whether the agreement comes
first); returns a :class:`~bot.dialogs.calls.FaceResult` (`decision` pass | review, `distance`,
`encoding`, `media`: the kept live frame, `review_media`, `reasons`) to the caller's ``on_face``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from pydantic import Field

from bot.dialogs import calls, consent
from bot.dialogs.base import (
    Act,
    Ctx,
    DownloadRefused,
    Upload,
    back_row,
    download,
    end_dialog,
    home_button,
    keep_temp_media,
    keyboard,
    upload_of,
)
from bot.dialogs.calls import FaceCheck, FaceResult, StepData
from bot.dialogs.progress import ProgressMessage, first_guess, texts
from bot.domain.face_pause import PausePolicy
from bot.domain.models import ConsentDocument
from bot.domain.outcomes import EventOutcome
from bot.services.records import dialog_document
from bot.services.verifier import VerificationUnavailable
from bot.ui import Nav, Node, button
from bot.verification.face import Action, FaceVerdict, random_challenge, same_recording
from bot.verification.face.container import editing_tool
from bot.verification.face.liveness import missing_actions

VIDEO_KINDS = frozenset({"video", "video_note", "document", "animation"})
# Reasons whose text names the actions that were not seen.
_NAMES_MISSING = frozenset({"liveness_wrong_action", "liveness_action_late", "liveness_no_action"})


class FaceSG(StatesGroup):
    agreement = State()
    video = State()


class FaceStep(StepData):
    """The face check's own value: the challenge asked for (the actions, in order)."""

    KEY: ClassVar[str] = "face_step"
    challenge: list[str] = Field(default_factory=list)


async def begin(ctx: Ctx, check: FaceCheck) -> None:
    """The call: the agreement (unless ``check`` says it was signed before), then the challenge."""
    await calls.call(ctx, "face", check)
    if await _refuse_if_paused(ctx):
        return
    if check.with_agreement:
        await ctx.state.set_state(FaceSG.agreement)
        await consent.show(ctx, ConsentDocument.FACE_RECOGNITION)
    else:
        await _challenge(ctx)


def _new_challenge(ctx: Ctx) -> list[str]:
    pinned = ctx.services.settings.liveness_challenge
    if pinned:  # the settings refuse a pinned challenge outside the sandbox
        return list(pinned)
    return [a.value for a in random_challenge(random.SystemRandom())]


def _seconds(ctx: Ctx) -> int:
    return int(ctx.services.settings.max_selfie_seconds)


async def _challenge(ctx: Ctx, *, note: str | None = None) -> None:
    challenge = _new_challenge(ctx)
    await ctx.store(FaceStep(challenge=challenge))
    await ctx.state.set_state(FaceSG.video)
    steps = [ctx.t("liveness.action." + name) for name in challenge]
    flow = await calls.flow_of(ctx) or None
    # The screen is named as the function's step guide names it (变更: 【身份验证】).
    title_key = f"face.title.{flow}"
    title = ctx.t(title_key) if ctx.t.catalog.has(title_key, ctx.t.lang) else None
    text = ctx.t("face.challenge", steps=steps, seconds=_seconds(ctx), title=title)
    await ctx.say((note + "\n\n" + text) if note else text, keyboard(back_row(ctx.t)))


# --- the lasting pause -------------------------------------------------------------------------------


def _policy(ctx: Ctx) -> PausePolicy:
    s = ctx.services.settings
    return PausePolicy(
        limit=s.face_pause_after,
        window=timedelta(hours=s.face_failure_window_hours),
        base=timedelta(minutes=s.face_pause_minutes),
        cap=timedelta(minutes=s.face_pause_max_minutes),
        forget=timedelta(days=s.face_pause_forget_days),
    )


async def _pause_keys(ctx: Ctx) -> tuple[list[str], str | None]:
    """The account, and the document this face check is for: the one read or typed in this dialog,
    else the record of the person being checked (a step-up), else the account's own record."""
    repo = ctx.repo.face_pauses
    keys = [repo.user_key(ctx.user_id)]
    number, doc_type = "", None
    doc = dialog_document(await calls.view(ctx))
    if doc is not None:
        number, doc_type = doc.number, doc.doc_type
    if not number:
        check = await calls.arg(ctx, "face", FaceCheck)
        person_id = check.person_id if check is not None else None
        person = await ctx.repo.persons.get(person_id) if person_id is not None else None
        if person is None:
            person = await ctx.repo.persons.find_by_telegram(ctx.user_id)
        if person is not None:
            number, doc_type = person.document.number, person.document.doc_type
    doc_key = repo.document_key(doc_type, number) if number and doc_type is not None else None
    if doc_key is not None:
        keys.append(doc_key)
    return keys, doc_key


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 59) // 60)


async def _say_paused(ctx: Ctx, until: datetime, *, reason: str) -> None:
    """End the dialog (its uploads go) and say until when: neither /start nor a new dialog helps."""
    flow = await calls.flow_of(ctx) or "face"
    await end_dialog(ctx.state, ctx.services)
    await ctx.repo.events.record(flow, "face", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=reason)
    await ctx.say(
        ctx.t("face.paused", minutes=_minutes_left(until, ctx.now()), until=ctx.t.moment(until)),
        keyboard([button(ctx.t("menu.help"), Nav(node=Node.HELP))], [home_button(ctx.t)]),
    )


async def _refuse_if_paused(ctx: Ctx) -> bool:
    keys, _ = await _pause_keys(ctx)
    until = await ctx.repo.face_pauses.paused_until(keys)
    if until is None:
        return False
    await _say_paused(ctx, until, reason="face_paused")
    return True


# --- live capture ------------------------------------------------------------------------------------


def _not_live(upload: Upload, video: bytes | None) -> str | None:
    """Why this upload may be no live capture: a video note (or a video from Telegram's camera) is
    recorded just now; a file keeps whatever was made anywhere, and an editor or a converter names
    itself in the container."""
    if video is not None and editing_tool(video) is not None:
        return "video_not_camera"
    if upload.kind == "document":
        return "video_sent_as_file"
    return None


def _declared_length_disagrees(upload: Upload, verdict: FaceVerdict) -> bool:
    """Telegram's stated length (whole seconds, from the sender's client) against the frames' own
    timestamps: a header edited to pass the up-front length check disagrees with its frames."""
    if not upload.duration or not verdict.duration or verdict.decision == "fail":
        return False
    return abs(verdict.duration - upload.duration) > max(2.0, 0.25 * verdict.duration)


def _stricter(verdict: FaceVerdict, why: str) -> FaceVerdict:
    """No benefit of the doubt for a clip that may not be live: what a live video note would send to
    staff review (a face near the threshold, passive cues in the review band) fails."""
    if verdict.decision != "review":
        return verdict
    return replace(verdict, decision="fail", reasons=[*verdict.reasons, why])


def _failure_text(ctx: Ctx, verdict: FaceVerdict, challenge: list[Action]) -> str:
    codes = list(dict.fromkeys(verdict.reasons or ["face_mismatch"]))
    missing = missing_actions(challenge, verdict.liveness.actions)
    named = (
        "、".join(ctx.t("liveness.action." + a) for a in missing)
        if ctx.t.lang == "zh_CN"
        else ("; ".join(ctx.t("liveness.action." + a) for a in missing))
    )
    lines = []
    for code in codes:
        values: dict[str, Any] = {"seconds": _seconds(ctx)}
        if code in _NAMES_MISSING:
            values["missing"] = named
        lines.append("• " + ctx.t.reason(code, **values))
    return ctx.t("face.failed") + "\n" + "\n".join(lines)


def create_router() -> Router:
    router = Router(name="face")

    async def back(ctx: Ctx) -> None:
        await calls.back_from(ctx, "face")

    consent.register_step(
        router, FaceSG.agreement, ConsentDocument.FACE_RECOGNITION, on_agree=_challenge, on_back=back
    )

    @router.callback_query(FaceSG.video, Act.filter(F.a == "back"))
    async def video_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        # One step back is the face agreement when this check began with it; the flow's own step
        # before (the verified phone, the card) keeps what was done there.
        check = await calls.arg(ctx, "face", FaceCheck)
        if check is not None and check.with_agreement:
            await ctx.state.set_state(FaceSG.agreement)
            await consent.show(ctx, ConsentDocument.FACE_RECOGNITION)
            return
        await back(ctx)

    async def refuse(message: Message, ctx: Ctx, code: str, **values: Any) -> None:
        flow = await calls.flow_of(ctx) or "face"
        await ctx.repo.events.record(
            flow, "face", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=code
        )
        await message.answer(ctx.t.reason(code, **values), reply_markup=keyboard(back_row(ctx.t)))

    @router.message(FaceSG.video)
    async def video(message: Message, ctx: Ctx) -> None:
        upload = upload_of(message)
        if (
            upload is None
            or upload.kind not in VIDEO_KINDS
            or (upload.kind == "document" and not (upload.mime or "").startswith("video/"))
        ):
            await message.answer(ctx.t("face.expect_video"), reply_markup=keyboard(back_row(ctx.t)))
            return
        settings = ctx.services.settings
        if upload.forwarded:
            # A forwarded video was recorded by someone, somewhen: never a live capture.
            await refuse(message, ctx, "video_forwarded")
            return
        not_live = _not_live(upload, None)
        if not_live is not None and settings.selfie_not_live == "refuse":
            await refuse(message, ctx, not_live)
            return
        if upload.duration and upload.duration > settings.max_selfie_seconds:
            # Telegram states the length up front: a 20-minute video is refused before downloading it.
            # (The engine measures the real length again, on the frames' own timestamps.)
            await refuse(message, ctx, "video_too_long", seconds=_seconds(ctx))
            return
        flow = await calls.flow_of(ctx) or "face"
        keys, doc_key = await _pause_keys(ctx)
        until = await ctx.repo.face_pauses.paused_until(keys)
        if until is not None:  # begun meanwhile, e.g. by the same document on another account
            await _say_paused(ctx, until, reason="face_paused")
            return
        await ctx.typing("record_video")
        progress = await ProgressMessage.post(
            message,
            texts(ctx.t, running="face.checking", queued="face.queued"),
            first_guess(ctx.services.verifier.waiting),
        )
        challenge = [Action(a) for a in (await ctx.load(FaceStep)).challenge]
        check = await calls.arg(ctx, "face", FaceCheck) or FaceCheck()
        try:
            video_bytes = await download(ctx, upload)
            not_live = _not_live(upload, video_bytes)
            if not_live is not None and settings.selfie_not_live == "refuse":
                await progress.edit_text(ctx.t.reason(not_live))
                await ctx.repo.events.record(
                    flow,
                    "face",
                    EventOutcome.REJECTED,
                    user_id=ctx.user_id,
                    reason_code=not_live,
                )
                return
            digest = await asyncio.to_thread(lambda: hashlib.sha256(video_bytes).hexdigest())
            seen = await ctx.repo.media.seen_before(digest)
            async with progress.live() as report:
                verdict = await ctx.services.verifier.verify_video(
                    video_bytes,
                    challenge,
                    check.refs,
                    seen_before=seen,
                    progress=report,
                )
            await ctx.repo.media.remember(digest)
            # A re-encoded copy of an earlier submission has other bytes but the same fingerprint.
            fingerprint = tuple(verdict.fingerprint)
            if fingerprint:
                since = ctx.now() - timedelta(days=settings.retention_raw_media_days)
                earlier = await ctx.repo.media.fingerprints_since(since)
                await ctx.repo.media.remember_fingerprint(fingerprint)
                if any(same_recording(fingerprint, old) for old in earlier):
                    verdict = replace(verdict, decision="fail", reasons=["video_already_submitted"])
        except DownloadRefused as exc:
            await progress.edit_text(ctx.t.reason(exc.code))
            return
        except VerificationUnavailable:
            await progress.edit_text(ctx.t.reason("verification_unavailable"))
            return
        if _declared_length_disagrees(upload, verdict):
            verdict = replace(verdict, decision="fail", reasons=["video_timing_inconsistent"])
        if not_live is not None:
            verdict = _stricter(verdict, not_live)
        if verdict.live_encoding is not None:
            # The face itself is paused, whatever account or document it comes with now.
            until = await ctx.repo.face_pauses.face_paused_until(
                verdict.live_encoding, settings.face_match_threshold
            )
            if until is not None:
                await progress.edit_text(ctx.t("face.failed"))
                await _say_paused(ctx, until, reason="face_paused_face")
                return
        if verdict.decision == "fail" or verdict.live_encoding is None or verdict.best_frame_jpeg is None:
            if not verdict.reasons:
                verdict = replace(verdict, decision="fail", reasons=["face_mismatch"])
            # Every refusal is a statistics row with its first reason (the one the user reads first).
            await ctx.repo.events.record(
                flow, "face", EventOutcome.REJECTED, user_id=ctx.user_id, reason_code=verdict.reasons[0]
            )
            outcome = await ctx.repo.face_pauses.fail(
                keys,
                _policy(ctx),
                doc_key=doc_key,
                # a liveness failure has no live face, but its face still keys the pause
                encodings=[e] if (e := verdict.live_encoding or verdict.face_encoding) is not None else [],
            )
            await progress.edit_text(_failure_text(ctx, verdict, challenge))
            if outcome.paused_until is not None:
                await _say_paused(ctx, outcome.paused_until, reason="face_paused_now")
                return
            note = ctx.t("face.tries_left", n=outcome.failures_left) + "\n" + ctx.t("face.try_again")
            await _challenge(ctx, note=note)
            return
        if verdict.decision == "pass":
            await ctx.repo.face_pauses.succeed(keys)
        frame_media = await keep_temp_media(ctx, verdict.best_frame_jpeg, "live_photo")
        review_media = [await keep_temp_media(ctx, f, "review_frame") for f in verdict.review_frames_jpeg]
        result = FaceResult(
            decision=verdict.decision,
            distance=verdict.match_distance,
            encoding=list(verdict.live_encoding),
            media=frame_media,
            review_media=review_media,
            reasons=list(verdict.reasons),
        )
        await progress.edit_text(
            ctx.t("face.passed") if verdict.decision == "pass" else ctx.t("face.checked")
        )
        await calls.finish(ctx, result)

    return router
