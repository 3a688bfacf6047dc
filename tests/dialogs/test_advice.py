"""Each engine reason reaches the user as its own advice (issue 21 item 7)."""

from __future__ import annotations

from bot.ui import Function, Go
from tests.helpers.client import BotClient
from tests.helpers.fakes import PORTRAIT, FakeVerifier, front_reading
from tests.helpers.functions import press, text


async def test_a_located_portrait_without_a_face_is_told_so(
    client: BotClient, verifier: FakeVerifier
) -> None:
    """Not "the photo could not be located… keep all four corners in the frame": the photo was found,
    the face in it was not."""
    verifier.readings[b"front"] = front_reading()
    verifier.face_encodings[PORTRAIT] = None
    replies = await client.press(Go(func=Function.COLLECT).pack())
    replies = await press(client, replies, "身份证采集")
    replies = await client.send_photo(b"front")
    assert "人像照片中没有检测到人脸" in text(replies), text(replies)
    assert "四个角" not in text(replies)
