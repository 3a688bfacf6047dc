"""The Services holder: everything built once at start from settings and shared by all updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.domain.clock import Clock, system_clock
from bot.i18n import Catalog
from bot.integrations.identity import HttpIdentityAuthority, IdentityAuthority, SandboxIdentityAuthority
from bot.integrations.sms import HttpSmsGateway, SandboxSmsGateway, SmsGateway
from bot.services.handoff import HandoffService, handoff_keys
from bot.services.otp import OtpService
from bot.services.verifier import PoolVerifier, Verifier
from bot.storage.crypto import FieldCipher, derive_key
from bot.storage.face_index import FaceIndex
from bot.storage.factory import open_database
from bot.storage.media import MediaStore
from bot.storage.repositories import Repositories
from bot.storage.sql import Database
from bot.verification.face import FaceConfig


async def open_db(settings: Settings, *, migrate: bool | None = None) -> Database:
    """The records database the settings name (PostgreSQL when DATABASE_URL is set, else SQLite)."""
    return await open_database(
        settings.db_path,
        url=settings.db_url,
        pool_size=settings.db_pool_size,
        migrate=settings.db_migrate_on_start if migrate is None else migrate,
    )


def build_verifier(settings: Settings) -> PoolVerifier:
    """The process pool of the engines; models load once per worker, at its start."""
    from bot.runtime import tune_worker_gc
    from bot.verification.face import warmup as warm_face
    from bot.verification.idcard import warm_up as warm_ocr
    from bot.verification.pool import VerificationPool, default_workers

    pool = VerificationPool(
        workers=settings.verification_workers or default_workers(),
        timeout=settings.verification_timeout,
        warmup=(warm_ocr, warm_face, tune_worker_gc),  # the collector tuned last, as in the bot
    )
    config = FaceConfig(
        match_threshold=settings.face_match_threshold,
        review_margin=settings.face_review_margin,
        max_video_seconds=settings.max_selfie_seconds,
    )
    return PoolVerifier(pool, config)


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    db: Database
    cipher: FieldCipher
    media: MediaStore
    verifier: Verifier
    sms: SmsGateway
    otp: OtpService
    identity: IdentityAuthority
    faces: FaceIndex | None = None  # the process's live-face index (bot.storage.face_index)
    handoffs: HandoffService | None = None  # portal handoffs (issue 20), built by `build`
    # The one clock of the process: repositories, jobs and rules read time from it (tests pin it).
    clock: Clock = system_clock
    _owned: list[Any] = field(default_factory=list, repr=False)

    @classmethod
    async def build(
        cls,
        settings: Settings,
        *,
        sandbox_url: str | None = None,
        verifier: Verifier | None = None,
        sms: SmsGateway | None = None,
        identity: IdentityAuthority | None = None,
        clock: Clock = system_clock,
    ) -> Services:
        """`verifier`, `sms`, `identity` may be given (tests share one pool across many bots);
        what is built here is also closed here. `clock` is the one every part built here reads
        (tests pin it)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog = Catalog.load(settings.locales_dir, settings.default_locale)
        masters, current, index_master = settings.encryption_keys()
        cipher = FieldCipher.from_masters(masters, current=current, index_master=index_master)
        db = await open_db(settings)
        owned: list[Any] = []
        if sms is None:
            if settings.sms_gateway_url:
                key = settings.sms_api_key.get_secret_value() if settings.sms_api_key else ""
                sms = HttpSmsGateway(
                    settings.sms_gateway_url,
                    key,
                    timeout=settings.integration_timeout,
                    retries=settings.integration_retries,
                )
            else:
                if sandbox_url is None:
                    raise ValueError("no SMS gateway: set SMS_GATEWAY_URL, or run in the sandbox")
                sms = SandboxSmsGateway(sandbox_url)
            owned.append(sms)
        if identity is None:
            if settings.identity_authority_url:
                key = (
                    settings.identity_authority_key.get_secret_value()
                    if settings.identity_authority_key
                    else ""
                )
                identity = HttpIdentityAuthority(
                    settings.identity_authority_url,
                    key,
                    timeout=settings.integration_timeout,
                    retries=settings.integration_retries,
                )
            else:
                identity = SandboxIdentityAuthority(db, cipher)
                if sandbox_url is not None and settings.mode == "sandbox":
                    # The local Telegram sandbox a person walks by hand (`make run`, e2e tests).
                    await identity.seed_demo()
            owned.append(identity)
        if verifier is None and settings.verification_mode == "queue":
            # Imported here so the embedded deployment never loads arq and the Redis client.
            from bot.services.queued_verifier import QueuedVerifier

            queued = await QueuedVerifier.connect(settings, cipher)
            owned.append(queued)
            verifier = queued
        elif verifier is None:
            verifier = build_verifier(settings)
            await verifier.pool.start()
            owned.append(verifier.pool)
        otp = OtpService(db, sms, derive_key(masters[index_master], "otp-codes"), clock=clock)
        handoffs = HandoffService(db, settings, handoff_keys(settings, masters[index_master]), clock)
        owned.append(handoffs)
        return cls(
            settings=settings,
            catalog=catalog,
            db=db,
            cipher=cipher,
            media=MediaStore(settings.media_dir, cipher),
            verifier=verifier,
            sms=sms,
            otp=otp,
            identity=identity,
            faces=FaceIndex(cipher),
            handoffs=handoffs,
            clock=clock,
            _owned=owned,
        )

    def repositories(self, clock: Clock | None = None) -> Repositories:
        """The repositories over these services, reading this clock (or one a job run pins)."""
        return Repositories(self.db, self.cipher, clock=clock or self.clock, faces=self.faces)

    async def close(self) -> None:
        for resource in reversed(self._owned):
            await resource.close()
        await self.db.close()
