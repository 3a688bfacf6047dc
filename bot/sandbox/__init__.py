"""Local Telegram sandbox: a Bot API emulator for the unmodified bot plus a control API for simulated
users. It knows the bot only over HTTP, like Telegram does, so it imports nothing else of ``bot``.
See README.md in this folder for the control API contract."""

from .botapi import SANDBOX_ACK_METHOD
from .config import SandboxConfig
from .server import SANDBOX_STATE_KEY, SandboxServer, create_sandbox_app
from .state import SandboxState

__all__ = [
    "SANDBOX_ACK_METHOD",
    "SANDBOX_STATE_KEY",
    "SandboxConfig",
    "SandboxServer",
    "SandboxState",
    "create_sandbox_app",
]
