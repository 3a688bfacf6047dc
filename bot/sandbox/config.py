"""Knobs of the local Telegram sandbox. Defaults mirror Telegram's own limits where it has them."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    # The send call returns this long after the bot last touched the chat, for bots that never
    # call sandboxAck (a bare echo bot). Bots that ack once are trusted to ack always.
    quiet_period: float = 0.3
    # A bot that acks can still take this long before its first Bot API call, so a sandbox whose
    # bot is known to ack (the project's own) can turn the quiet-period guess off entirely.
    require_ack: bool = False
    send_timeout: float = 120.0
    max_send_timeout: float = 600.0
    # Telegram lets bots upload 50 MB and download (getFile) 20 MB.
    max_file_bytes: int = 50 * MB
    max_download_bytes: int = 20 * MB
    # Everything is kept in memory: these caps keep a long-running sandbox bounded.
    max_total_file_bytes: int = 1024 * MB
    max_messages_per_chat: int = 1000
    max_pending_updates: int = 100_000
    max_sms: int = 10_000
    max_callback_queries: int = 100_000
    max_request_text_bytes: int = 4 * MB
    max_long_poll: float = 50.0
    event_queue_size: int = 1000
    sse_ping_interval: float = 15.0
    # What Telegram does to media and how it limits bots, on by default (README: "Telegram-like").
    # Photos a user or the bot sends become the photo-sizes array of recompressed JPEGs, the
    # largest at most photo_max_side px; False keeps the original bytes as the largest size.
    recompress_photos: bool = True
    photo_max_side: int = 1280
    photo_quality: int = 87
    # sendPhoto / sendMediaGroup photos: 10 MB, width + height <= 10,000, side ratio <= 20.
    photo_limits: bool = True
    max_photo_bytes: int = 10 * MB
    # answerCallbackQuery later than this after the press: "query is too old"; None: no deadline.
    callback_answer_timeout: float | None = 15.0
    # A video note a user sends is what Telegram's clients record: the centre square, at most
    # video_note_max_side px and video_note_max_seconds long, re-encoded; False keeps the bytes as sent.
    telegram_video_notes: bool = True
    video_note_max_side: int = 640
    video_note_max_seconds: float = 60.0
    # Flood control (flood.py): 429 "Too Many Requests: retry after N" beyond about one message a
    # second per chat with short bursts, 30 a second per bot, 20 a minute per group.
    flood_control: bool = True
    chat_rate: float = 1.0
    chat_burst: float = 3.0
    bot_rate: float = 30.0
    bot_burst: float = 30.0
    group_messages_per_minute: float = 20.0
    max_flood_buckets: int = 100_000
    default_language: str = "zh-hans"
    bot_first_name: str = "实名采集 (sandbox)"
    bot_username: str = "shiming_sandbox_bot"
