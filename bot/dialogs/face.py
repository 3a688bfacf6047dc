"""Face check, a sub-dialog: 《人脸识别服务协议》 → liveness challenge → selfie video → verdict.

The flow puts the reference encodings in `face_refs` before `begin` (the ID portrait, the stored live
face, or none for liveness only) and finds the outcome in `face` when `finished(ctx, "face")` is called:
`decision` (pass | review), `distance`, `encoding`, `media` (the kept live frame), `review_media`,
`reasons`.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import replace
from datetime import timedelta

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.dialogs import consent
from bot.dialogs.base import (
    Act,
    Ctx,
    DownloadRefused,
    back_row,
    download,
    keep_temp_media,
    keyboard,
    pause,
    reasons_text,
    spend_try,
    upload_of,
)
from bot.dialogs.progress import ProgressMessage, first_guess, texts
from bot.domain.models import ConsentDocument
from bot.services.verifier import VerificationUnavailable
from bot.verification.face import Action, random_challenge, same_recording

VIDEO_KINDS = frozenset({"video", "video_note", "document", "animation"})


class FaceSG(StatesGroup):
    agreement = State()
    video = State()


async def begin(ctx: Ctx, *, with_agreement: bool = True) -> None:
    if with_agreement:
        await ctx.state.set_state(FaceSG.agreement)
        await consent.show(ctx, ConsentDocument.FACE_RECOGNITION)
    else:
        await _challenge(ctx)


def _new_challenge(ctx: Ctx) -> list[str]:
    pinned = ctx.services.settings.liveness_challenge
    if pinned:  # the settings refuse a pinned challenge outside the sandbox
        return list(pinned)
    return [a.value for a in random_challenge(random.SystemRandom())]


async def _challenge(ctx: Ctx, *, note: str | None = None) -> None:
    challenge = _new_challenge(ctx)
    await ctx.put(challenge=challenge)
    await ctx.state.set_state(FaceSG.video)
    steps = [ctx.t("liveness.action." + name) for name in challenge]
    text = ctx.t("face.challenge", steps=steps)
    await ctx.say((note + "\n\n" + text) if note else text, keyboard(back_row(ctx.t)))


def create_router() -> Router:
    router = Router(name="face")

    async def back(ctx: Ctx) -> None:
        await (await ctx.flow()).back(ctx, "face")

    consent.register_step(
        router, FaceSG.agreement, ConsentDocument.FACE_RECOGNITION, on_agree=_challenge, on_back=back
    )

    @router.callback_query(FaceSG.video, Act.filter(F.a == "back"))
    async def video_back(query: CallbackQuery, ctx: Ctx) -> None:
        await query.answer()
        await back(ctx)

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
        if upload.forwarded:
            # A forwarded video was recorded by someone, somewhen: never a live capture.
            await message.answer(ctx.t.reason("video_forwarded"), reply_markup=keyboard(back_row(ctx.t)))
            return
        if upload.duration and upload.duration > ctx.services.settings.max_selfie_seconds:
            # Telegram states the length up front: a 20-minute video is refused before downloading it.
            await message.answer(ctx.t.reason("video_too_long"), reply_markup=keyboard(back_row(ctx.t)))
            return
        await ctx.typing("record_video")
        progress = await ProgressMessage.post(
            message,
            texts(ctx.t, running="face.checking", queued="face.queued"),
            first_guess(ctx.services.verifier.waiting),
        )
        data = await ctx.get()
        try:
            video_bytes = await download(ctx, upload)
            digest = await asyncio.to_thread(lambda: hashlib.sha256(video_bytes).hexdigest())
            seen = await ctx.repo.media.seen_before(digest)
            async with progress.live() as report:
                verdict = await ctx.services.verifier.verify_video(
                    video_bytes,
                    [Action(a) for a in data.get("challenge", [])],
                    data.get("face_refs", []),
                    seen_before=seen,
                    progress=report,
                )
            await ctx.repo.media.remember(digest)
            # A re-encoded copy of an earlier submission has other bytes but the same fingerprint.
            fingerprint = tuple(verdict.fingerprint)
            if fingerprint:
                since = ctx.now() - timedelta(days=ctx.services.settings.retention_raw_media_days)
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
        if verdict.decision == "fail" or verdict.live_encoding is None or verdict.best_frame_jpeg is None:
            codes = verdict.reasons or ["face_mismatch"]
            if await spend_try(ctx, "face"):
                await progress.edit_text(ctx.t("face.failed") + "\n" + reasons_text(ctx.t, codes))
                await _challenge(ctx, note=ctx.t("face.try_again"))
            else:
                await progress.edit_text(ctx.t("face.failed") + "\n" + reasons_text(ctx.t, codes))
                await pause(ctx, "face.too_many_tries")
            return
        frame_media = await keep_temp_media(ctx, verdict.best_frame_jpeg, "live_photo")
        review_media = [await keep_temp_media(ctx, f, "review_frame") for f in verdict.review_frames_jpeg]
        await ctx.put(
            face={
                "decision": verdict.decision,
                "distance": verdict.match_distance,
                "encoding": list(verdict.live_encoding),
                "media": frame_media,
                "review_media": review_media,
                "reasons": verdict.reasons,
            }
        )
        await progress.edit_text(
            ctx.t("face.passed") if verdict.decision == "pass" else ctx.t("face.checked")
        )
        await (await ctx.flow()).finished(ctx, "face")

    return router
