-- PostgreSQL text of migrations/0006_ids_never_reused.sql. Identity columns never hand out an id
-- twice (the sequence only moves forward, whatever is deleted), so persons, review cases, bindings
-- and register loads need no rebuild here; only the column the SQLite text adds as well.

-- The language_code Telegram last sent for the account: the fallback for messages sent outside the
-- user's own update (notices, the SMS to a maintained person).
ALTER TABLE users ADD COLUMN telegram_language TEXT;
