"""Builds the bot exactly as `__main__` does, over a temporary data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import Settings


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    # _env_file=None: a developer's .env must not leak into the tests.
    values: dict[str, Any] = {
        "bot_token": None,
        "sandbox": True,
        "data_dir": data_dir,
        "log_level": "WARNING",
        # The dialog tests of other matters run against an authority that knows every resident and
        # keeps no photo (tests/helpers/fakes.py EveryResidentKnown), where the bureau accepts the
        # card portrait. The identity tests (tests/hardening/test_attacks.py, test_identity_desk.py)
        # use the production default (on: no authority photo, a staff review case).
        "identity_photo_required": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]  # pydantic-settings init option
