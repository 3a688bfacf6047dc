"""Sub-dialogs called like functions: a stack of flows in the FSM data, typed inputs, typed results.

A function's dialog (collect, supplement, change, maintain, handoff) *calls* a sub-dialog (card
capture, identity authority, phone code, face check) with a typed input (:class:`FaceCheck`,
:class:`PhoneFor`, :class:`AuthoritySubject`, or none for the card). The call pushes a
:class:`Frame` — who called, which sub-dialog, its input — onto the stack kept under ``stack`` in the
FSM data. The sub-dialog reads its input from its frame (:func:`arg`), and when it is done it returns
a typed, versioned result (:class:`CardResult`, :class:`PhoneResult`, :class:`FaceResult`,
:class:`AuthorityResult`): the frame is popped, the result is kept in the FSM data under the
sub-dialog's name (the review payload and the record builders of ``bot/services`` read it there),
and the caller's hook is called with it: ``on_card(ctx, CardResult)``, ``on_phone``, ``on_face``,
``on_authority``. "Back" from a sub-dialog's first step pops the frame and calls the caller's
``back_from_card`` (``back_from_phone``, ...). Each hook set is a Protocol below, so mypy checks a
caller's hooks, and the return refuses a caller that lacks them.

Why a stack of flows rather than aiogram Scenes or aiogram_dialog:

* Scenes (``aiogram.fsm.scene``) enter and leave scenes by name with ``wizard.goto``/``back``; a scene
  has no typed return to the scene that entered it, and its history is a list of state names, not of
  callers with their inputs. The card capture would still hand results through the FSM dict.
* aiogram_dialog does have a stack with ``start_data``/``result`` (``on_process_result``), but the
  data are untyped dicts, its windows render every screen from getters (all of our texts, spoilers,
  message masking and progress edits would be rewritten as widgets), it keeps its own stack in the
  FSM storage in its own shape (our storages encrypt and expire the FSM data, and the dialogs must
  survive an upgrade), and it is a new dependency for a layer that is otherwise plain aiogram.
* The stack here is ~200 lines on the handlers we have: every step, text and test stays as it was,
  and what is stored is our own versioned pydantic models, which :func:`upgrade` can migrate.

FSM data version 2 (``dialog_v``): frames under ``stack``, sub-dialog inputs in their frames, results
as versioned models. :func:`upgrade` turns a dialog stored in version 1 (loose keys ``face_refs``,
``face_agreement``, ``phone_for``, ``authority_subject``, unversioned results, the caller found by
``flow``) into version 2 the first time it is read, so a dialog in flight survives the deployment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from bot.dialogs.base import Ctx

__all__ = [
    "DIALOG_VERSION",
    "STACK",
    "VERSION_KEY",
    "AuthorityCaller",
    "AuthorityResult",
    "AuthoritySubject",
    "CardCaller",
    "CardResult",
    "FaceCaller",
    "FaceCheck",
    "FaceResult",
    "Frame",
    "PhoneCaller",
    "PhoneFor",
    "PhoneResult",
    "arg",
    "back_from",
    "call",
    "card_of",
    "finish_authority",
    "finish_card",
    "finish_face",
    "finish_phone",
    "upgrade",
]

DIALOG_VERSION = 2
VERSION_KEY = "dialog_v"
STACK = "stack"

Sub = Literal["card", "phone", "face", "authority"]


class Versioned(BaseModel):
    """A model kept in the FSM data: ``v`` says which shape it was stored in."""

    model_config = ConfigDict(extra="forbid")

    v: int = 1

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --- inputs: what the caller asks the sub-dialog for ------------------------------------------------


class FaceCheck(Versioned):
    """The references the selfie must match (none: liveness only) and whether the face agreement is
    shown first (not for a face *login*: it was signed at collection)."""

    refs: list[list[float]] = Field(default_factory=list)
    with_agreement: bool = True


class PhoneFor(Versioned):
    """Someone else's phone (实名信息维护): whose (masked), for which enterprise, the SMS language."""

    name: str = ""
    enterprise: str = ""
    lang: str | None = None


class AuthoritySubject(Versioned):
    """An identity not read from this dialog's card (补录 of the on-site photo: the stored record's)."""

    doc_type: str
    number: str
    name: str
    birth_date: str | None = None


# --- results: what the sub-dialog returns -----------------------------------------------------------


class CardResult(Versioned):
    """The card capture: fields as read and corrected, the uploads, the portrait's face encoding.

    Also the capture's draft while it runs (``unread``: the side offered for typing); stored with only
    the fields set, so the shape the record builders read is the one they always read."""

    model_config = ConfigDict(extra="forbid")

    front: dict[str, Any] = Field(default_factory=dict)
    back: dict[str, Any] = Field(default_factory=dict)
    front_media: str | None = None
    back_media: str | None = None
    portrait_media: str | None = None
    portrait_encoding: list[float] | None = None
    read_problems: list[str] = Field(default_factory=list)
    read: dict[str, dict[str, Any]] = Field(default_factory=dict)
    corrections: list[dict[str, Any]] = Field(default_factory=list)
    manual: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    unread: dict[str, Any] | None = None

    @classmethod
    def load(cls, value: Any) -> CardResult:
        return cls.model_validate(dict(value) if isinstance(value, dict) else {})

    def dump(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json", exclude_unset=True), "v": self.v}


class PhoneResult(Versioned):
    number: str
    verified_at: str  # ISO-8601, aware

    def fields(self) -> dict[str, Any]:
        """What a record's edits keep (``number``, ``verified_at``): the shape the builders read."""
        return {"number": self.number, "verified_at": self.verified_at}


class FaceResult(Versioned):
    decision: str  # pass | review
    distance: float | None = None
    encoding: list[float] = Field(default_factory=list)
    media: str | None = None  # the kept live frame
    review_media: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class AuthorityResult(Versioned):
    checked: bool
    photo_media: str | None = None
    encoding: list[float] | None = None


RESULTS: dict[str, type[Versioned]] = {
    "card": CardResult,
    "phone": PhoneResult,
    "face": FaceResult,
    "authority": AuthorityResult,
}


class Frame(Versioned):
    caller: str
    sub: Sub
    input: dict[str, Any] | None = None


# --- the caller's hooks -----------------------------------------------------------------------------


@runtime_checkable
class CardCaller(Protocol):
    async def on_card(self, ctx: Ctx, result: CardResult) -> None: ...

    async def back_from_card(self, ctx: Ctx) -> None: ...


@runtime_checkable
class PhoneCaller(Protocol):
    async def on_phone(self, ctx: Ctx, result: PhoneResult) -> None: ...

    async def back_from_phone(self, ctx: Ctx) -> None: ...


@runtime_checkable
class FaceCaller(Protocol):
    async def on_face(self, ctx: Ctx, result: FaceResult) -> None: ...

    async def back_from_face(self, ctx: Ctx) -> None: ...


@runtime_checkable
class AuthorityCaller(Protocol):
    async def on_authority(self, ctx: Ctx, result: AuthorityResult) -> None: ...

    async def back_from_authority(self, ctx: Ctx) -> None: ...


CALLERS: dict[str, type[Any]] = {
    "card": CardCaller,
    "phone": PhoneCaller,
    "face": FaceCaller,
    "authority": AuthorityCaller,
}

M = TypeVar("M", bound=Versioned)


# --- the stack --------------------------------------------------------------------------------------


def _frames(data: dict[str, Any]) -> list[Frame]:
    return [Frame.model_validate(f) for f in data.get(STACK) or []]


def _without(frames: list[Frame], sub: str) -> tuple[list[Frame], Frame | None]:
    """The stack below the newest frame of ``sub`` (that frame and whatever it called are left)."""
    for i in range(len(frames) - 1, -1, -1):
        if frames[i].sub == sub:
            return frames[:i], frames[i]
    return frames, None


async def call(ctx: Ctx, sub: Sub, given: Versioned | None = None, **keep: Any) -> None:
    """Push the frame of a call to ``sub`` by the dialog's flow (a call of a sub-dialog already on the
    stack starts it afresh), with ``keep`` in the same write. The sub-dialog's ``begin`` shows its
    first step."""
    data = await ctx.get()
    frames, _ = _without(_frames(data), sub)
    caller = str(data.get("flow") or "")
    frame = Frame(caller=caller, sub=sub, input=given.dump() if given is not None else None)
    await ctx.put(**{STACK: [f.dump() for f in [*frames, frame]]}, **keep)


async def arg(ctx: Ctx, sub: Sub, model: type[M]) -> M | None:
    """The input the caller gave ``sub`` (None when it gave none)."""
    _, frame = _without(_frames(await ctx.get()), sub)
    if frame is None or frame.input is None:
        return None
    return model.model_validate(frame.input)


async def _pop(ctx: Ctx, sub: Sub, **keep: Any) -> Any:
    data = await ctx.get()
    frames, frame = _without(_frames(data), sub)
    await ctx.put(**{STACK: [f.dump() for f in frames]}, **keep)
    # A frame always names its caller; the dialog's flow is the caller of a dialog that lost it.
    name = frame.caller if frame is not None and frame.caller else data.get("flow")
    flow = ctx.flows.get(str(name)) if name else None
    if flow is None or not isinstance(flow, CALLERS[sub]):
        raise LookupError(f"no caller of {sub} in the dialog data")
    return flow


async def _finish(ctx: Ctx, sub: Sub, result: Versioned) -> Any:
    return await _pop(ctx, sub, **{sub: result.dump()})


async def finish_card(ctx: Ctx, result: CardResult) -> None:
    caller: CardCaller = await _finish(ctx, "card", result)
    await caller.on_card(ctx, result)


async def finish_phone(ctx: Ctx, result: PhoneResult) -> None:
    caller: PhoneCaller = await _finish(ctx, "phone", result)
    await caller.on_phone(ctx, result)


async def finish_face(ctx: Ctx, result: FaceResult) -> None:
    caller: FaceCaller = await _finish(ctx, "face", result)
    await caller.on_face(ctx, result)


async def finish_authority(ctx: Ctx, result: AuthorityResult) -> None:
    caller: AuthorityCaller = await _finish(ctx, "authority", result)
    await caller.on_authority(ctx, result)


async def back_from(ctx: Ctx, sub: Sub) -> None:
    """The user pressed "back" on the first step of ``sub``: its caller takes over."""
    caller = await _pop(ctx, sub)
    if sub == "card":
        await caller.back_from_card(ctx)
    elif sub == "phone":
        await caller.back_from_phone(ctx)
    elif sub == "face":
        await caller.back_from_face(ctx)
    else:
        await caller.back_from_authority(ctx)


async def card_of(ctx: Ctx) -> CardResult:
    """The card of this dialog (captured, or being captured)."""
    return CardResult.load((await ctx.get()).get("card"))


# --- the upgrade from version 1 ---------------------------------------------------------------------

# The state groups of the sub-dialogs, as aiogram names their states ("CardSG:front").
_GROUPS: dict[str, Sub] = {"CardSG": "card", "PhoneSG": "phone", "FaceSG": "face", "AuthoritySG": "authority"}


def _versioned(key: str, value: Any) -> Any:
    model = RESULTS[key]
    if not isinstance(value, dict):
        return value
    try:
        if model is CardResult:
            return CardResult.load(value).dump()
        return model.model_validate({k: v for k, v in value.items() if k != "v"}).dump()
    except ValidationError:
        return value  # a half-made value the sub-dialog makes again; the dialog goes on with it


def upgrade(data: dict[str, Any], state: str | None) -> dict[str, Any]:
    """A dialog stored in version 1 (before the stack), in version 2; ``state``: its FSM state.

    Version 1 found the caller by ``flow`` and handed inputs through loose keys: a dialog inside a
    sub-dialog gets the frame of that call (its input from those keys); the keys go. ``face_refs``
    set by 采集 before the phone step is made again by the flow when it calls the face check."""
    new = dict(data)
    face_refs = new.pop("face_refs", None)
    face_agreement = new.pop("face_agreement", None)
    phone_for = new.pop("phone_for", None)
    subject = new.pop("authority_subject", None)
    for key in RESULTS:
        if key in new:
            new[key] = _versioned(key, new[key])
    frames: list[Frame] = []
    sub = _GROUPS.get((state or "").split(":", 1)[0])
    flow = new.get("flow")
    if sub is not None and isinstance(flow, str):
        given: Versioned | None = None
        if sub == "face":
            given = FaceCheck(
                refs=[list(r) for r in face_refs or []],
                with_agreement=True if face_agreement is None else bool(face_agreement),
            )
        elif sub == "phone" and isinstance(phone_for, dict):
            given = PhoneFor.model_validate(phone_for)
        elif sub == "authority" and isinstance(subject, dict):
            given = AuthoritySubject.model_validate(subject)
        frames.append(Frame(caller=flow, sub=sub, input=given.dump() if given is not None else None))
    new[STACK] = [f.dump() for f in frames]
    new[VERSION_KEY] = DIALOG_VERSION
    return new


def needs_upgrade(data: dict[str, Any]) -> bool:
    return bool(data) and "flow" in data and data.get(VERSION_KEY) != DIALOG_VERSION
