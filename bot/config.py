"""Every knob of the bot, read from the environment and `.env` (pydantic-settings).

Defaults are chosen so that `make run` on a fresh machine starts the local sandbox with no
configuration at all; production deployments must set the token and the encryption key.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
Mode = Literal["polling", "webhook", "sandbox"]
LIVENESS_ACTIONS = ("blink", "open_mouth", "turn_left", "turn_right", "nod")
# A well-formed token for the sandbox: aiogram validates the shape, the sandbox accepts any.
SANDBOX_TOKEN = "100000:SANDBOX-local-token"


# The sandbox's fixed, public key (its data is fictitious): refused as ENCRYPTION_KEY outside it.
DEV_KEY = b"sandbox-development-key-not-secret!"[:32]


def weak_key_problem(raw: bytes) -> str | None:
    """Why a master key is visibly weak (None when it is not): the development key, under 32 bytes,
    all bytes equal, a short pattern repeated, or too few distinct bytes for random data."""
    if raw == DEV_KEY or raw.startswith(b"sandbox-development-key"):
        return "it is the public development key"
    if len(raw) < 32:
        return "it decodes to fewer than 32 bytes"
    if len(set(raw)) == 1:
        return "all its bytes are equal"
    for period in range(1, 17):
        if all(raw[i] == raw[i % period] for i in range(len(raw))):
            return f"it repeats a {period}-byte pattern"
    # 32 random bytes have ~28 distinct values; fewer than 16 is text-like or patterned.
    if len(set(raw)) < 16:
        return "it has too few distinct bytes to be random"
    return None


class SettingsError(ValueError):
    """A configuration that must not start (e.g. no encryption key outside the sandbox)."""


def config_error_text(exc: Exception) -> str:
    """What the operator is told: the problems, never the values (pydantic's own text repeats the
    input, the encryption key and the token included)."""
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error.get("loc", ()))
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{where.upper()}: {message}" if where else message)
        return "; ".join(parts)
    return str(exc)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class HandoffPortal(BaseModel):
    """A website or desktop client allowed to hand collection to the bot (HANDOFF_PORTALS)."""

    name: str  # shown to the user before anything is shared, e.g. "国家税务总局辽宁省电子税务局"
    key: SecretStr  # its API key, sent as X-Portal-Key
    callback_prefix: str | None = None  # a callback URL must start with this (unset: no callbacks)


# The sandbox's own demo portal (bot/sandbox/portal.py): fictitious, so its key is public.
SANDBOX_PORTAL_ID = "etax-demo"
SANDBOX_PORTAL = HandoffPortal(
    name="电子税务局（沙盒演示）", key=SecretStr("sandbox-portal-key"), callback_prefix="http://127.0.0.1:"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- Telegram -------------------------------------------------------------------------------
    # The local sandbox only when asked for (SANDBOX=1, or `python -m bot --sandbox` as `make run`
    # does): an empty BOT_TOKEN is a configuration error otherwise, never a silent sandbox with the
    # public development key.
    sandbox: bool = False
    bot_token: SecretStr | None = None
    bot_api_base: str | None = Field(
        default=None,
        description="Bot API server URL (a self-hosted telegram-bot-api); None = api.telegram.org",
    )
    webhook_url: str | None = Field(default=None, description="Public HTTPS URL; set = webhook mode")
    webhook_secret: SecretStr | None = Field(
        default=None, description="X-Telegram-Bot-Api-Secret-Token; required in webhook mode"
    )
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    # Several replicas share one webhook: exactly one of them (or a deploy step) registers it, so
    # replicas starting and stopping do not keep re-registering or deleting it.
    webhook_register: bool = Field(default=False, description="this replica calls setWebhook at start")
    # SIGTERM: stop accepting, then wait this long for updates being handled before closing anyway.
    webhook_drain_seconds: float = Field(default=30.0, ge=0)
    # Webhook replicas pointed at the local sandbox (BOT_API_BASE) instead of Telegram, as the
    # distributed tests run them: ack each update and use the sandbox's SMS inbox.
    bot_api_sandbox: bool = False

    # --- storage --------------------------------------------------------------------------------
    data_dir: Path = REPO_ROOT / "data"
    database_path: Path | None = Field(default=None, description="default: <data_dir>/shiming.sqlite3")
    # Set = the records (and, without REDIS_URL, the dialog state) live in PostgreSQL, shared by every
    # replica; unset = the embedded SQLite file above.
    database_url: SecretStr | None = Field(
        default=None, description="postgresql://user:password@host:5432/dbname (asyncpg)"
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections per process")
    # False: refuse to start on an out-of-date schema; the deployment runs `python -m bot migrate`
    # once per release instead (replicas starting together also migrate safely: a lock orders them).
    db_migrate_on_start: bool = True
    encryption_key: SecretStr | None = Field(
        default=None,
        description="base64 of >= 32 random bytes; or 'new:b64,old:b64' (first encrypts, last indexes)",
    )

    # --- people ---------------------------------------------------------------------------------
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    default_locale: Literal["zh_CN", "en"] = "zh_CN"
    locales_dir: Path = REPO_ROOT / "locales"

    # --- local sandbox --------------------------------------------------------------------------
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8081

    # --- verification ---------------------------------------------------------------------------
    verification_workers: int | None = Field(default=None, description="process pool size; None = CPUs")
    verification_timeout: float = 90.0
    liveness_challenge: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="pins the liveness actions; sandbox only"
    )
    face_match_threshold: float = 0.55
    face_review_margin: float = 0.05
    # The prompt names this limit; it is measured on the frames' own timestamps (a clip whose
    # container says less is refused). A longer clip could hold every action several times over.
    max_selfie_seconds: float = 15.0
    max_step_retries: int = 3
    # Failed selfies pause the person (document and face) and the account, across dialogs and
    # restarts: after this many failures within the window, a pause of face_pause_minutes, doubled
    # with every pause up to the cap; forgotten after face_pause_forget_days without one.
    face_pause_after: int = Field(default=3, ge=1)
    face_failure_window_hours: int = Field(default=24, ge=1)
    face_pause_minutes: int = Field(default=30, ge=1)
    face_pause_max_minutes: int = Field(default=24 * 60, ge=1)
    face_pause_forget_days: int = Field(default=30, ge=1)
    # A video note is recorded live in Telegram. A forwarded video is always refused; a plain video or
    # a file, or an encoder that is no phone camera's: "refuse", or "stricter" (judged with a
    # narrower passive-spoof margin and any near-threshold result sent to staff review).
    selfie_not_live: Literal["refuse", "stricter"] = "stricter"
    # 实名信息维护 needs a face step-up no older than this.
    face_stepup_minutes: int = 5
    # 实名信息变更: face comparisons that did not pass before the function pauses, and for how long.
    change_face_attempts: int = 3
    change_pause_minutes: int = 30

    # --- integrations ---------------------------------------------------------------------------
    sms_gateway_url: str | None = None
    sms_api_key: SecretStr | None = None
    identity_authority_url: str | None = None
    identity_authority_key: SecretStr | None = None
    # The authority did not answer: false = "try again later"; true = the collection goes on and
    # becomes a staff review case (never a silent pass).
    identity_unavailable_review: bool = False
    # A resident-ID collection whose identity the authority confirms without a photo of the person
    # goes to staff review (the card portrait alone cannot tell a card drawn on a computer, naming a
    # victim, from a real one). False only where the authority never keeps photos and the bureau
    # accepts the card portrait as the evidence.
    identity_photo_required: bool = True
    # 【信息核实】: corrections of the ID number per account and per number typed, then a pause.
    number_edit_limit: int = Field(default=5, ge=1)
    number_edit_pause_minutes: int = Field(default=60, ge=1)
    integration_timeout: float = 10.0
    integration_retries: int = 2

    # --- staff console and retention ---------------------------------------------------------------
    retention_enabled: bool = True
    retention_raw_media_days: int = Field(
        default=30,
        ge=1,
        description="days after which raw card photos, selfie frames and review frames are deleted",
    )
    retention_interval_minutes: int = Field(default=60, ge=1, description="how often the retention job runs")
    register_max_rows: int = Field(default=5000, ge=1, description="rows accepted in one uploaded register")

    # --- abuse and fault limits (issue 8) --------------------------------------------------------
    # Per user: a burst of updates, then a steady rate; updates carrying a photo, video or file (OCR,
    # face checks) have their own, tighter bucket because each costs seconds of a worker process.
    throttle_burst: int = Field(default=30, ge=1, description="updates a user may send at once")
    throttle_rate: float = Field(default=2.0, gt=0, description="updates per second refilled per user")
    throttle_media_burst: int = Field(default=10, ge=1, description="photos/videos/files at once")
    throttle_media_per_minute: float = Field(default=10.0, gt=0, description="media refilled per minute")
    # Telegram redelivers an update for up to 24 hours; a claim older than that can be forgotten.
    update_claim_hours: float = Field(default=24.0, gt=0)

    # --- beyond one machine (issue 10): Redis FSM and verification workers ------------------------
    # Unset = the embedded deployment: FSM in SQLite, verification in this process's pool.
    redis_url: SecretStr | None = Field(default=None, description="redis://[user:pass@]host:port/db")
    # A dialog left alone this long is forgotten by Redis itself (its data holds ID fields).
    fsm_ttl_hours: float = Field(default=24.0, gt=0)
    verification_mode: Literal["pool", "queue"] = Field(
        default="pool", description="queue = jobs to `python -m bot.worker` processes via Redis (arq)"
    )
    verification_queue_name: str = "shiming:verification"
    # Uploads are already bounded by the download step; this keeps one job from filling Redis anyway.
    verification_job_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # How long the bot waits for a queued job (queueing included) before asking the user to retry.
    verification_queue_wait: float = Field(default=180.0, gt=0)
    # Tries of one job when workers die mid-job (a job that kills every worker must stop somewhere).
    verification_job_tries: int = Field(default=3, ge=1)

    # --- portal handoff (issue 20): the e-tax website's QR code opens the bot -------------------
    # JSON: {"<portal id>": {"name": "...", "key": "...", "callback_prefix": "https://..."}}; the
    # sandbox adds its demo portal. The API is served beside the webhook, or on HANDOFF_HOST:PORT.
    handoff_portals: dict[str, HandoffPortal] = Field(default_factory=dict)
    handoff_host: str = "127.0.0.1"
    handoff_port: int = Field(default=8082, ge=0, description="polling/sandbox mode; 0 = no portal API")
    handoff_token_minutes: float = Field(default=5.0, gt=0, description="the QR code works this long")
    handoff_session_minutes: float = Field(default=30.0, gt=0, description="scan to result, at most")
    handoff_signing_key: SecretStr | None = Field(
        default=None, description="base64 Ed25519 seed (32 bytes); default: derived from ENCRYPTION_KEY"
    )
    handoff_callback_tries: int = Field(default=3, ge=1, le=10)

    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("liveness_challenge", mode="before")
    @classmethod
    def _challenge(cls, value: object) -> object:
        parts = _split_csv(value)
        if isinstance(parts, list):
            unknown = [p for p in parts if p not in LIVENESS_ACTIONS]
            if unknown:
                raise ValueError(f"unknown liveness actions {unknown}; use {', '.join(LIVENESS_ACTIONS)}")
        return parts

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        scheme = "" if value is None else value.get_secret_value().split("://", 1)[0]
        if value is not None and scheme not in {"postgres", "postgresql"}:
            raise ValueError("DATABASE_URL must start with postgresql:// (SQLite is DATABASE_PATH)")
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.verification_mode == "queue" and self.redis_url is None:
            raise SettingsError("VERIFICATION_MODE=queue needs REDIS_URL")
        if self.mode != "sandbox":
            if self.liveness_challenge:
                raise SettingsError(
                    "LIVENESS_CHALLENGE pins the liveness check and is refused outside the sandbox"
                )
            if self.encryption_key is None:
                raise SettingsError("ENCRYPTION_KEY is required outside the sandbox")
            masters, _current, _index = self.encryption_keys()
            for key_id, raw in masters.items():
                problem = weak_key_problem(raw)
                if problem:
                    raise SettingsError(
                        f"ENCRYPTION_KEY {key_id!r} is refused outside the sandbox: {problem}; generate "
                        "one: python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
                    )
        if self.mode == "webhook" and self.webhook_secret is None:
            raise SettingsError("WEBHOOK_SECRET is required in webhook mode (anyone could post updates)")
        return self

    # --- derived --------------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        if self.sandbox:
            return "sandbox"
        return "webhook" if self.webhook_url else "polling"

    def portals(self) -> dict[str, HandoffPortal]:
        if self.mode == "sandbox" and SANDBOX_PORTAL_ID not in self.handoff_portals:
            return {SANDBOX_PORTAL_ID: SANDBOX_PORTAL, **self.handoff_portals}
        return dict(self.handoff_portals)

    @property
    def has_token(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value())

    def require_token(self) -> None:
        """The bot itself (not the worker, not the operator commands) needs a token outside the sandbox."""
        if self.mode != "sandbox" and not self.has_token:
            raise SettingsError("BOT_TOKEN is required (or SANDBOX=1 / --sandbox for the local sandbox)")

    @property
    def token(self) -> str:
        return self.bot_token.get_secret_value() if self.bot_token else SANDBOX_TOKEN

    @property
    def db_path(self) -> Path:
        return self.database_path or self.data_dir / "shiming.sqlite3"

    @property
    def db_url(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def encryption_keys(self) -> tuple[dict[str, bytes], str, str]:
        """Master secrets by id, the id of the one that encrypts (the first listed) and the id of the
        one that derives the blind index (the last listed: the oldest, kept through rotations because
        changing it would change every index).

        The sandbox without a key gets a fixed, public development key: its data is fictitious,
        and a key that changed at each start would make the sandbox's database unreadable.
        """
        if self.encryption_key is None:
            if self.mode != "sandbox":
                raise SettingsError("ENCRYPTION_KEY is required outside the sandbox")
            return {"dev": DEV_KEY}, "dev", "dev"
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for index, item in enumerate(self.encryption_key.get_secret_value().split(",")):
            key_id, sep, encoded = item.strip().rpartition(":")
            if not sep:
                key_id, encoded = f"k{index}", item.strip()
            try:
                raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
            except (binascii.Error, ValueError):
                raise SettingsError("every ENCRYPTION_KEY must be base64") from None
            if len(raw) < 32:
                raise SettingsError("every ENCRYPTION_KEY must decode to at least 32 bytes")
            keys[key_id] = raw
            order.append(key_id)
        return keys, order[0], order[-1]
