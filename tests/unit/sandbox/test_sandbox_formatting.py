"""Telegram markup parsing: plain text, UTF-16 entity offsets, and Telegram's parse errors."""

from __future__ import annotations

import pytest

from bot.sandbox.errors import BotApiError
from bot.sandbox.formatting import command_entities, format_text, parse_html, parse_markdown, utf16_len


def test_html_plain_text_and_entities() -> None:
    plain, entities = parse_html(
        '<b>粗</b> &lt;tag&gt; &amp; &#36; <a href="https://x.org/?a=1&amp;b=2">link</a>'
    )
    assert plain == "粗 <tag> & $ link"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 1},
        {"type": "text_link", "offset": 12, "length": 4, "url": "https://x.org/?a=1&b=2"},
    ]


def test_html_offsets_count_utf16_units() -> None:
    plain, entities = parse_html("😀 <i>x</i>")
    assert utf16_len("😀 ") == 3
    assert entities == [{"type": "italic", "offset": 3, "length": 1}]
    assert plain == "😀 x"


def test_html_nested_pre_code_and_spoiler() -> None:
    plain, entities = parse_html(
        '<pre><code class="language-python">print(1)</code></pre><span class="tg-spoiler">s</span>'
    )
    assert plain == "print(1)s"
    assert entities == [
        {"type": "pre", "language": "python", "offset": 0, "length": 8},
        {"type": "spoiler", "offset": 8, "length": 1},
    ]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("x</b>", "Unexpected end tag"),
        ("<span>x</span>", 'Unsupported start tag "span"'),
    ],
)
def test_html_errors_like_telegram(text: str, detail: str) -> None:
    with pytest.raises(BotApiError) as err:
        parse_html(text)
    assert err.value.error_code == 400
    assert err.value.description.startswith("Bad Request: can't parse entities: " + detail)


def test_markdown_v2() -> None:
    plain, entities = parse_markdown(r"*bold* _it_ __u__ ~s~ ||sp|| `c` [t](https://x.org) 1\.5\!", v2=True)
    assert plain == "bold it u s sp c t 1.5!"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    with pytest.raises(BotApiError, match="Character '!' is reserved"):
        parse_markdown("hi!", v2=True)
    with pytest.raises(BotApiError, match="Can't find end of Bold entity"):
        parse_markdown("*open", v2=True)


def test_legacy_markdown_is_lenient() -> None:
    assert parse_markdown("*b* 1.5!", v2=False) == ("b 1.5!", [{"type": "bold", "offset": 0, "length": 1}])


def test_format_text_modes() -> None:
    assert format_text("<b>x</b>", None) == ("<b>x</b>", [])
    assert format_text("<b>x</b>", "html")[0] == "x"
    with pytest.raises(BotApiError, match="unsupported parse_mode"):
        format_text("x", "BBCode")


def test_command_entities() -> None:
    assert command_entities("/start") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert command_entities("你好 /help@some_bot x") == [{"type": "bot_command", "offset": 3, "length": 14}]
    assert command_entities("a/b http://x/y") == []
