"""What a dialog keeps in the FSM data, typed, and how a dialog is left: shared by the dialogs and the
handlers that end them (/cancel, /start, home), so no handler imports a dialog.

Everything a dialog keeps is a :class:`Kept` model (pydantic, versioned by ``v``) stored whole under
its own key: the sub-dialogs' results (``bot/dialogs/calls.py``), each flow's and each sub-dialog's own
values (``CollectData``, ``PhoneStep``, ...), and the values of the dialog as a whole, :class:`Common`
(the tries per step, the temporary uploads, the messages shown in full, the documents signed, the
e-tax handoff the dialog serves). A dialog reads and writes them through ``Ctx.load`` / ``Ctx.find`` /
``Ctx.store`` (``bot/dialogs/base.py``); no step reads a loose key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from bot.services import Services

__all__ = ["Common", "Kept", "Versioned", "end_dialog", "mask_shown"]

log = logging.getLogger(__name__)


class Versioned(BaseModel):
    """A model kept in the FSM data: ``v`` says which shape it was stored in."""

    model_config = ConfigDict(extra="forbid")

    v: int = 1

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Kept(Versioned):
    """A model stored whole under ``KEY`` in the FSM data."""

    KEY: ClassVar[str]

    @classmethod
    def found(cls, data: Mapping[str, Any]) -> Self | None:
        """The model stored in ``data``; None when there is none (or one this shape cannot read)."""
        value = data.get(cls.KEY)
        if not isinstance(value, dict):
            return None
        try:
            return cls.model_validate(value)
        except ValidationError:
            log.warning("unreadable %s in the dialog data", cls.KEY)
            return None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Self:
        """The model stored in ``data``, or a fresh one (for models whose every field has a default)."""
        return cls.found(data) or cls()


class Common(Kept):
    """The values of the dialog as a whole, whichever flow runs it."""

    KEY: ClassVar[str] = "dialog"
    # Failed attempts per step (``spend_try``).
    tries: dict[str, int] = Field(default_factory=dict)
    # Uploads stored for the rest of the dialog: deleted when it ends, but those a record keeps.
    temp_media: list[str] = Field(default_factory=list)
    # Messages that show the owner full values (【信息核实】, a correction prompt): [message id, the
    # text it is edited down to]. Every way out of the step masks them.
    verify_shown: list[tuple[int, str]] = Field(default_factory=list)
    # The documents signed in this dialog (bot/dialogs/consent.py), read by the record builders.
    consents: list[dict[str, Any]] = Field(default_factory=list)
    # The e-tax website's handoff (扫一扫) this dialog serves: the collection it starts reports to it.
    handoff: str | None = None

    # Before FSM data version 3 these were loose keys of the data.
    LOOSE: ClassVar[tuple[str, ...]] = ("tries", "temp_media", "verify_shown", "consents", "handoff")

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Self:
        kept = cls.found(data)
        if kept is not None:
            return kept
        # A dialog stored before version 3 (``end_dialog`` reads the storage without the upgrade).
        loose = {k: data[k] for k in cls.LOOSE if data.get(k) is not None}
        try:
            return cls.model_validate(loose)
        except ValidationError:
            return cls()


async def mask_shown(bot: Bot, chat_id: int, shown: list[tuple[int, str]]) -> None:
    """Edit each message that showed full values down to its masked text (stored with it)."""
    for message_id, masked in shown:
        try:
            await bot.edit_message_text(masked, chat_id=chat_id, message_id=int(message_id))
        except Exception:  # too old, deleted by the user, unchanged: nothing more to hide there
            log.debug("could not mask an earlier message", exc_info=True)


async def end_dialog(
    state: FSMContext, services: Services, *, keep: frozenset[str] = frozenset(), bot: Bot | None = None
) -> None:
    """Leave the dialog: the FSM data goes, and so does every temporary file not now part of a record.
    With ``bot``, messages that showed the owner full values are masked first (/cancel, /start, home,
    a pause: the step is left without its own buttons)."""
    data = await state.get_data()
    common = Common.of(data)
    if bot is not None and common.verify_shown:
        await mask_shown(bot, state.key.chat_id, common.verify_shown)
    for media_id in common.temp_media:
        if media_id not in keep:
            try:
                await services.media.delete(media_id)
            except Exception:  # a file left behind is collected by the retention job
                log.warning("could not delete a temporary media file", exc_info=True)
    # /start and "home" call this on every press: skip the two writes when there is nothing to clear.
    if data or await state.get_state() is not None:
        await state.clear()
