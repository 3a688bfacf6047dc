"""Dialog tests run the real dispatcher with a mocked session: fixtures in tests/helpers/dispatcher.py."""

from tests.helpers.dispatcher import bot, client, client_en, dp, services, settings, sms, verifier

__all__ = ["bot", "client", "client_en", "dp", "services", "settings", "sms", "verifier"]
