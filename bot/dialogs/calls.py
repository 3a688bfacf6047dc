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
``back_from_card`` (``back_from_phone``, ...): :func:`finish` and :func:`back_from` call the hooks by
the sub-dialog's name and refuse a caller that lacks them.

Beside the results, each flow keeps its own values in one :class:`FlowData` (under the flow's name)
and each sub-dialog in one :class:`StepData`, read and written the same way as the results
(``Ctx.load`` / ``Ctx.find`` / ``Ctx.change`` / ``Ctx.store``); :func:`view` flattens them into the
shape the record builders and the review payload read.

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

FSM data version 3 (``dialog_v``): frames under ``stack``, sub-dialog inputs in their frames, results
and own values as versioned models. :func:`upgrade` turns a dialog stored in version 1 (loose keys
``face_refs``, ``face_agreement``, ``phone_for``, ``authority_subject``, unversioned results, the
caller found by ``flow``) or version 2 (the own values as loose keys: ``tries``, ``temp_media``,
``doc_type``, ``phone_pending``, ``edits``, ...) into version 3 the first time it is read, so a
dialog in flight survives the deployment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import Field, ValidationError

from bot.conversation import Common, Kept, Versioned

if TYPE_CHECKING:
    from bot.dialogs.base import Ctx

__all__ = [
    "DIALOG_VERSION",
    "STACK",
    "VERSION_KEY",
    "AuthorityResult",
    "AuthoritySubject",
    "CardResult",
    "FaceCheck",
    "FaceResult",
    "FlowData",
    "Frame",
    "PhoneFor",
    "PhoneResult",
    "StepData",
    "arg",
    "back_from",
    "call",
    "finish",
    "flow_of",
    "payload",
    "upgrade",
    "view",
]

DIALOG_VERSION = 3
VERSION_KEY = "dialog_v"
STACK = "stack"

Sub = Literal["card", "phone", "face", "authority"]


# --- inputs: what the caller asks the sub-dialog for ------------------------------------------------


class FaceCheck(Versioned):
    """The references the selfie must match (none: liveness only) and whether the face agreement is
    shown first (not for a face *login*: it was signed at collection)."""

    refs: list[list[float]] = Field(default_factory=list)
    with_agreement: bool = True
    # The person whose face this is, when the dialog reads no document of its own (补录 of the
    # on-site photo, 变更 once the card named a record): the lasting pause is also keyed by theirs.
    person_id: int | None = None


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


class CardResult(Kept):
    """The card capture: fields as read and corrected, the uploads, the portrait's face encoding.

    Also the capture's draft while it runs (``unread``: the side offered for typing); stored with only
    the fields set, so the shape the record builders read is the one they always read."""

    KEY: ClassVar[str] = "card"
    front: dict[str, Any] = Field(default_factory=dict)
    back: dict[str, Any] = Field(default_factory=dict)
    front_media: str | None = None
    back_media: str | None = None
    portrait_media: str | None = None
    portrait_encoding: list[float] | None = None
    read_problems: list[str] = Field(default_factory=list)
    read: dict[str, dict[str, Any]] = Field(default_factory=dict)
    corrections: list[dict[str, Any]] = Field(default_factory=list)
    # Per side, the engine's notes on what it read (reason codes: taken from the number, a doubtful
    # name character, a simplified form), shown on 【信息核实】 until the field is corrected.
    read_notes: dict[str, list[str]] = Field(default_factory=dict)
    manual: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    unread: dict[str, Any] | None = None

    def dump(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json", exclude_unset=True), "v": self.v}


class PhoneResult(Kept):
    KEY: ClassVar[str] = "phone"
    number: str
    verified_at: str  # ISO-8601, aware

    def fields(self) -> dict[str, Any]:
        """What a record's edits keep (``number``, ``verified_at``): the shape the builders read."""
        return {"number": self.number, "verified_at": self.verified_at}


class FaceResult(Kept):
    KEY: ClassVar[str] = "face"
    decision: str  # pass | review
    distance: float | None = None
    encoding: list[float] = Field(default_factory=list)
    media: str | None = None  # the kept live frame
    review_media: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class AuthorityResult(Kept):
    KEY: ClassVar[str] = "authority"
    checked: bool
    photo_media: str | None = None
    encoding: list[float] | None = None



RESULTS: dict[str, type[Kept]] = {m.KEY: m for m in (CardResult, PhoneResult, FaceResult, AuthorityResult)}
Result = CardResult | PhoneResult | FaceResult | AuthorityResult


# --- a flow's and a sub-dialog's own values ---------------------------------------------------------


class Own(Kept):
    """Own values that version 2 kept as loose keys of the FSM data, each field under its own name
    (or, in ``RENAMED``, another): :meth:`loose` maps those keys to the fields."""

    RENAMED: ClassVar[dict[str, str]] = {}

    @classmethod
    def loose(cls) -> dict[str, str]:
        return {cls.RENAMED.get(name, name): name for name in cls.model_fields if name != "v"}


class StepData(Own):
    """A sub-dialog's own values while it runs (the number waiting for its code, the challenge, ...),
    stored under ``KEY``; :func:`upgrade` moves in their loose keys of version 2."""

    STEPS: ClassVar[list[type[StepData]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "KEY" in cls.__dict__:
            StepData.STEPS.append(cls)


class FlowData(Own):
    """A flow's own values, stored under its name (``KEY``: ``collect``, ``maintain``, ...); their loose
    keys of version 2 are moved in by :func:`upgrade`. :func:`view` spreads the fields into the flat
    shape the record builders and the review payload read (``doc_type``, ``other``, ``edits``, ...), as
    the dialog stored them before."""

    FLOWS: ClassVar[dict[str, type[FlowData]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "KEY" in cls.__dict__:
            FlowData.FLOWS[cls.KEY] = cls

    def flat(self) -> dict[str, Any]:
        """The fields under the loose keys of before, in the record builders' shape: what is not set
        (None) is left out, as the dialog of before had no key for it."""
        dumped = self.model_dump(mode="json", exclude_none=True)
        return {key: dumped[field] for key, field in self.loose().items() if field in dumped}


def _loose(model: type[StepData] | type[FlowData], data: dict[str, Any]) -> dict[str, Any] | None:
    """Take ``model``'s loose keys out of ``data`` (version 2); its model, or None when it had none."""
    found = {field: data.pop(key) for key, field in model.loose().items() if key in data}
    found = {k: v for k, v in found.items() if v is not None}
    if not found:
        return None
    try:
        return model.model_validate(found).dump()
    except ValidationError:
        return None  # a half-made value the step makes again; the dialog goes on without it


class Frame(Versioned):
    caller: str
    sub: Sub
    input: dict[str, Any] | None = None


# --- the stack --------------------------------------------------------------------------------------


def _frames(data: Mapping[str, Any]) -> list[Frame]:
    return [Frame.model_validate(f) for f in data.get(STACK) or []]


def _without(frames: list[Frame], sub: str) -> tuple[list[Frame], Frame | None]:
    """The stack below the newest frame of ``sub`` (that frame and whatever it called are left)."""
    for i in range(len(frames) - 1, -1, -1):
        if frames[i].sub == sub:
            return frames[:i], frames[i]
    return frames, None


async def flow_of(ctx: Ctx) -> str:
    """The name of the flow this dialog runs ("" outside a flow)."""
    return str((await ctx.get()).get("flow") or "")


async def call(ctx: Ctx, sub: Sub, given: Versioned | None = None, *keep: Kept) -> None:
    """Push the frame of a call to ``sub`` by the dialog's flow (a call of a sub-dialog already on the
    stack starts it afresh), with ``keep`` in the same write. The sub-dialog's ``begin`` shows its
    first step."""
    data = await ctx.get()
    frames, _ = _without(_frames(data), sub)
    caller = str(data.get("flow") or "")
    frame = Frame(caller=caller, sub=sub, input=given.dump() if given is not None else None)
    await ctx.put(**{STACK: [f.dump() for f in [*frames, frame]]}, **{k.KEY: k.dump() for k in keep})


M = TypeVar("M", bound=Versioned)


async def arg(ctx: Ctx, sub: Sub, model: type[M]) -> M | None:
    """The input the caller gave ``sub`` (None when it gave none)."""
    _, frame = _without(_frames(await ctx.get()), sub)
    if frame is None or frame.input is None:
        return None
    return model.model_validate(frame.input)


# The caller's hooks of each sub-dialog: ``on_<sub>(ctx, result)`` and ``back_from_<sub>(ctx)``.
def _hooks(sub: Sub) -> tuple[str, str]:
    return f"on_{sub}", f"back_from_{sub}"


async def _pop(ctx: Ctx, sub: Sub, *keep: Kept) -> Any:
    data = await ctx.get()
    frames, frame = _without(_frames(data), sub)
    await ctx.put(**{STACK: [f.dump() for f in frames]}, **{k.KEY: k.dump() for k in keep})
    # A frame always names its caller; the dialog's flow is the caller of a dialog that lost it.
    name = frame.caller if frame is not None and frame.caller else data.get("flow")
    flow = ctx.flows.get(str(name)) if name else None
    if flow is None or not all(callable(getattr(flow, hook, None)) for hook in _hooks(sub)):
        raise LookupError(f"no caller of {sub} in the dialog data")
    return flow


async def finish(ctx: Ctx, result: Result) -> None:
    """The sub-dialog that made ``result`` is done: its frame goes, the result is kept under the
    sub-dialog's name, and the caller's ``on_<sub>`` gets it."""
    sub: Sub = _SUB_OF[type(result)]
    caller = await _pop(ctx, sub, result)
    await getattr(caller, _hooks(sub)[0])(ctx, result)


async def back_from(ctx: Ctx, sub: Sub) -> None:
    """The user pressed "back" on the first step of ``sub``: its caller takes over."""
    caller = await _pop(ctx, sub)
    await getattr(caller, _hooks(sub)[1])(ctx)


_SUB_OF: dict[type[Kept], Sub] = {
    CardResult: "card",
    PhoneResult: "phone",
    FaceResult: "face",
    AuthorityResult: "authority",
}


async def view(ctx: Ctx) -> dict[str, Any]:
    """The dialog in the flat shape the record builders (``bot/services/records.py``), the review
    payload and its approval read: ``flow``, the results under the sub-dialogs' names, ``consents``,
    and the flow's own values under their keys of before (``doc_type``, ``other``, ``edits``, ...)."""
    data = await ctx.get()
    flow = str(data.get("flow") or "")
    flat: dict[str, Any] = {"flow": flow or None}
    flat.update({key: data[key] for key in RESULTS if key in data})
    common = Common.of(data)
    flat["consents"] = common.consents
    flat["handoff"] = common.handoff
    model = FlowData.FLOWS.get(flow)
    if model is not None:
        flat.update(model.of(data).flat())
    return flat


# --- the upgrades: version 1 (before the stack), version 2 (before the typed own values) -------------

# The state groups of the sub-dialogs, as aiogram names their states ("CardSG:front").
_GROUPS: dict[str, Sub] = {"CardSG": "card", "PhoneSG": "phone", "FaceSG": "face", "AuthoritySG": "authority"}


def _versioned(key: str, value: Any) -> Any:
    model = RESULTS[key]
    if not isinstance(value, dict):
        return value
    try:
        if model is CardResult:
            return CardResult.model_validate(value).dump()
        return model.model_validate({k: v for k, v in value.items() if k != "v"}).dump()
    except ValidationError:
        return value  # a half-made value the sub-dialog makes again; the dialog goes on with it


def _from_version_1(data: dict[str, Any], state: str | None) -> dict[str, Any]:
    """Version 1 found the caller by ``flow`` and handed inputs through loose keys: a dialog inside a
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
    return new


def _from_version_2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 kept the flows' and sub-dialogs' own values as loose keys (``tries``, ``doc_type``,
    ``phone_pending``, ``edits``, ...): each goes into its model (:class:`Common`, the flow's
    :class:`FlowData`, each :class:`StepData`); a key of another flow than the dialog's goes."""
    new = dict(data)
    person_id = new.get("person_id")
    common = {k: new.pop(k) for k in Common.LOOSE if k in new}
    common = {k: v for k, v in common.items() if v is not None}
    if common:
        # (unreadable: the uploads stay for the retention job, the tries start again)
        with contextlib.suppress(ValidationError):
            new[Common.KEY] = Common.model_validate(common).dump()
    flow = FlowData.FLOWS.get(str(new.get("flow") or ""))
    steps: list[type[StepData] | type[FlowData]] = [*StepData.STEPS]
    if flow is not None:
        steps.append(flow)
    for model in steps:
        made = _loose(model, new)
        if made is not None:
            new[model.KEY] = made
    for other in FlowData.FLOWS.values():  # left by another flow's dialog of before: nobody reads it
        for key in other.loose():
            new.pop(key, None)
    # The face check's pause was keyed by the dialog's ``person_id``: now its input says whose face.
    frames = _frames(new)
    for frame in frames:
        if frame.sub == "face" and isinstance(person_id, int):
            given = FaceCheck.model_validate(frame.input or {})
            if given.person_id is None:
                frame.input = given.model_copy(update={"person_id": person_id}).dump()
    new[STACK] = [f.dump() for f in frames]
    return new


def upgrade(data: dict[str, Any], state: str | None) -> dict[str, Any]:
    """A dialog stored in an earlier version, in this one; ``state``: its FSM state. Run the first time
    the dialog is read after the deployment, so a dialog in flight goes on where it was."""
    new = dict(data)
    if new.get(VERSION_KEY) is None:
        new = _from_version_1(new, state)
    if int(new.get(VERSION_KEY) or 1) < 3:
        new = _from_version_2(new)
    new[VERSION_KEY] = DIALOG_VERSION
    return new


def needs_upgrade(data: Mapping[str, Any]) -> bool:
    return bool(data) and "flow" in data and data.get(VERSION_KEY) != DIALOG_VERSION


async def payload(ctx: Ctx, keys: tuple[str, ...]) -> dict[str, Any]:
    """``keys`` of :func:`view`: what a review case keeps of the dialog (its approval reads them)."""
    flat = await view(ctx)
    return {key: flat.get(key) for key in keys}
