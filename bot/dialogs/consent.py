"""The two documents the user signs (PIPL: separate consent for sensitive personal information)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from bot.dialogs.base import Ctx, act, back_row, keyboard
from bot.domain.models import Consent, ConsentDocument
from bot.i18n import Catalog

# Catalogue key of each document; the Chinese full text is the authoritative one that gets hashed.
KEYS = {ConsentDocument.PERSONAL_INFO: "consent.pi", ConsentDocument.FACE_RECOGNITION: "consent.face"}
AUTHORITATIVE = "zh_CN"


def consent_keyboard(ctx: Ctx) -> InlineKeyboardMarkup:
    return keyboard(
        [act(ctx.t("consent.read_full"), "full")],
        [act(ctx.t("consent.agree"), "agree"), act(ctx.t("consent.decline"), "decline")],
        back_row(ctx.t),
    )


async def show(ctx: Ctx, document: ConsentDocument) -> None:
    await ctx.say(ctx.t(KEYS[document] + ".summary"), consent_keyboard(ctx))


async def show_full(ctx: Ctx, document: ConsentDocument) -> None:
    await ctx.say(ctx.t(KEYS[document] + ".full"), consent_keyboard(ctx))


def text_hash(catalog: Catalog, document: ConsentDocument) -> str:
    return hashlib.sha256(catalog.messages[AUTHORITATIVE][KEYS[document] + ".full"].encode()).hexdigest()


def signed(catalog: Catalog, document: ConsentDocument) -> dict[str, Any]:
    """What the dialog keeps until the record is saved: which version of which text, and when."""
    return {
        "document": document.value,
        "version": catalog.messages[AUTHORITATIVE][KEYS[document] + ".version"],
        "text_hash": text_hash(catalog, document),
        "agreed_at": datetime.now(UTC).isoformat(),
    }


async def record(ctx: Ctx, document: ConsentDocument) -> None:
    consents = [c for c in (await ctx.get()).get("consents", []) if c["document"] != document.value]
    consents.append(signed(ctx.services.catalog, document))
    await ctx.put(consents=consents)


def as_consents(items: list[dict[str, Any]]) -> tuple[Consent, ...]:
    return tuple(
        Consent(
            ConsentDocument(c["document"]),
            c["version"],
            c["text_hash"],
            datetime.fromisoformat(c["agreed_at"]),
        )
        for c in items
    )
