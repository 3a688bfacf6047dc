"""Telegram text formatting: parse HTML / MarkdownV2 into plain text plus entities.

Telegram rejects malformed markup with "can't parse entities"; the sandbox does the same so that a
template bug (an unescaped ``<`` or an unsupported ``<br>``) shows up locally, not in production.
Offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import BotApiError, bad_request

Entity = dict[str, Any]

_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>")
_ATTR_RE = re.compile(r"""([A-Za-z][\w-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND_RE = re.compile(r"(?:(?<=\s)|^)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_error(detail: str) -> BotApiError:
    return bad_request(f"can't parse entities: {detail}")


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _unescape_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _NAMED:
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return match.group(0)


def parse_html(text: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    pos = 0  # UTF-16 offset of the plain text produced so far
    stack: list[tuple[str, int, Entity]] = []
    entities: list[Entity] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if m is None:
                name_m = re.match(r"</?([^\s<>]*)", text[i:])
                name = name_m.group(1) if name_m else ""
                raise _parse_error(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}')
            closing, name, attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
            if name not in _HTML_TAGS:
                kind = "end" if closing else "start"
                raise _parse_error(f'Unsupported {kind} tag "{name}" at byte offset {_byte_offset(text, i)}')
            if closing:
                if not stack:
                    raise _parse_error(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
                open_name, start, entity = stack.pop()
                if open_name != name:
                    raise _parse_error(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
                        f'expected "</{open_name}>", found "</{name}>"'
                    )
                if entity.get("_skip"):
                    pass
                elif pos > start:
                    entity["offset"] = start
                    entity["length"] = pos - start
                    entities.append(entity)
            else:
                attr_map = {
                    a.group(1).lower(): next(g for g in a.groups()[1:] if g is not None)
                    for a in _ATTR_RE.finditer(attrs)
                }
                entity = {"type": _HTML_TAGS[name]}
                if name == "span" and attr_map.get("class") != "tg-spoiler":
                    raise _parse_error(f'Unsupported start tag "span" at byte offset {_byte_offset(text, i)}')
                if name == "a":
                    href = _ENTITY_RE.sub(_unescape_entity, attr_map.get("href", ""))
                    user_id = href[len("tg://user?id=") :]
                    if href.startswith("tg://user?id=") and user_id.isdigit():
                        entity = {"type": "text_mention", "user": {"id": int(user_id)}}
                    elif href:
                        entity["url"] = href
                    else:
                        entity["_skip"] = True
                elif name == "tg-emoji":
                    entity["custom_emoji_id"] = attr_map.get("emoji-id", "")
                elif name == "blockquote" and "expandable" in attrs:
                    entity["type"] = "expandable_blockquote"
                elif name == "code" and stack and stack[-1][0] == "pre":
                    # <pre><code class="language-x"> is one pre entity with a language, not two.
                    lang = attr_map.get("class", "")
                    if lang.startswith("language-"):
                        stack[-1][2]["language"] = lang[len("language-") :]
                    entity["_skip"] = True
                stack.append((name, pos, entity))
            i = m.end()
            continue
        if ch == "&":
            m = _ENTITY_RE.match(text, i)
            if m is not None:
                piece = _unescape_entity(m)
                out.append(piece)
                pos += utf16_len(piece)
                i = m.end()
                continue
        if ch == ">":
            # Telegram tolerates a bare ">" in text; only "<" and "&" must be escaped.
            pass
        out.append(ch)
        pos += utf16_len(ch)
        i += 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), _sorted(entities)


_MD_MARKERS_V2 = (
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
)
_MD_MARKERS_V1 = (("*", "bold"), ("_", "italic"))


def parse_markdown(text: str, *, v2: bool) -> tuple[str, list[Entity]]:
    """MarkdownV2 (strict: reserved characters must be escaped) or legacy Markdown (lenient)."""
    out: list[str] = []
    pos = 0
    open_marks: dict[str, int] = {}
    link_starts: list[int] = []
    entities: list[Entity] = []
    markers = _MD_MARKERS_V2 if v2 else _MD_MARKERS_V1
    i = 0
    n = len(text)

    def emit(piece: str) -> None:
        nonlocal pos
        out.append(piece)
        pos += utf16_len(piece)

    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and (v2 or text[i + 1] in "_*`["):
            emit(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise _parse_error(f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}")
            body = text[i + 3 : end]
            language = ""
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language, body = first, rest
            start = pos
            emit(re.sub(r"\\(.)", r"\1", body) if v2 else body)
            entity: Entity = {"type": "pre", "offset": start, "length": pos - start}
            if language:
                entity["language"] = language
            if pos > start:
                entities.append(entity)
            i = end + 3
            continue
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise _parse_error(f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}")
            start = pos
            emit(text[i + 1 : end])
            if pos > start:
                entities.append({"type": "code", "offset": start, "length": pos - start})
            i = end + 1
            continue
        matched = next(((m, t) for m, t in markers if text.startswith(m, i)), None)
        if matched is not None:
            mark, kind = matched
            if mark in open_marks:
                start = open_marks.pop(mark)
                if pos > start:
                    entities.append({"type": kind, "offset": start, "length": pos - start})
            else:
                open_marks[mark] = pos
            i += len(mark)
            continue
        if ch == "[":
            link_starts.append(pos)
            i += 1
            continue
        if ch == "]" and link_starts:
            start = link_starts.pop()
            m = re.match(r"\]\(((?:\\.|[^)\\])*)\)", text[i:])
            if m is None:
                if v2:
                    raise _parse_error(
                        "Character ']' is reserved and must be escaped with the preceding '\\'"
                    )
                emit("]")
                i += 1
                continue
            url = re.sub(r"\\(.)", r"\1", m.group(1))
            if pos > start:
                entities.append({"type": "text_link", "offset": start, "length": pos - start, "url": url})
            i += m.end()
            continue
        if v2 and ch == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if v2 and ch in _MDV2_RESERVED:
            raise _parse_error(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        emit(ch)
        i += 1
    if open_marks:
        mark, start = next(iter(open_marks.items()))
        kind = dict(markers)[mark]
        raise _parse_error(f"Can't find end of {kind.capitalize()} entity at byte offset {start}")
    if link_starts and v2:
        raise _parse_error("Can't find end of TextUrl entity")
    return "".join(out), _sorted(entities)


def format_text(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Plain text and entities for ``text`` sent with ``parse_mode`` (None or "" for none)."""
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return text, []
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown(text, v2=True)
    if mode == "markdown":
        return parse_markdown(text, v2=False)
    raise bad_request(f"unsupported parse_mode {parse_mode}")


def command_entities(text: str) -> list[Entity]:
    """``bot_command`` entities the Telegram client attaches to a user's message."""
    entities: list[Entity] = []
    for m in _COMMAND_RE.finditer(text):
        entities.append(
            {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        )
    return entities
