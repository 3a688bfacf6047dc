"""Dialog tests run the real dispatcher with a mocked session: fixtures in tests/helpers/dispatcher.py."""

from tests.helpers.dispatcher import bot, client, client_en, clock, dp, services, settings, sms, verifier
from tests.helpers.postgres import database_url

# Every dialog test runs twice: records in SQLite, and in PostgreSQL.
__all__ = [
    "bot", "client", "client_en", "clock", "database_url", "dp", "services", "settings", "sms", "verifier",
]
