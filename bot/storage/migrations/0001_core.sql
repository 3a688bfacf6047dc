-- Core tables of the walking skeleton. Timestamps are UTC ISO-8601 text with microseconds
-- (bot.storage.timeutil), so they sort and compare as text.

-- aiogram FSM state per StorageKey. thread_id / business_connection_id use 0 / '' for "none" because
-- NULLs are never equal in a UNIQUE key. data_enc is the JSON data encrypted with FieldCipher: it holds
-- recognised ID fields mid-dialog.
CREATE TABLE fsm_state (
    bot_id                 INTEGER NOT NULL,
    chat_id                INTEGER NOT NULL,
    user_id                INTEGER NOT NULL,
    thread_id              INTEGER NOT NULL DEFAULT 0,
    business_connection_id TEXT    NOT NULL DEFAULT '',
    destiny                TEXT    NOT NULL DEFAULT 'default',
    state                  TEXT,
    data_enc               TEXT,
    updated_at             TEXT    NOT NULL,
    PRIMARY KEY (bot_id, chat_id, user_id, thread_id, business_connection_id, destiny)
) WITHOUT ROWID;
CREATE INDEX fsm_state_updated_at ON fsm_state (updated_at);

-- Telegram accounts that have talked to the bot. No names: only what the bot needs.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,  -- Telegram user id
    language    TEXT,                 -- chosen with /language; NULL = follow Telegram's language_code
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL
);

-- Who did what to which record. before/after are JSON already masked (bot.domain.masking).
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            TEXT    NOT NULL,
    actor_user_id INTEGER,            -- NULL = the system itself
    action        TEXT    NOT NULL,
    subject_type  TEXT    NOT NULL,
    subject_id    TEXT,
    before_json   TEXT,
    after_json    TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id);

-- Idempotency: an update id claimed once is never handled again.
CREATE TABLE processed_updates (
    bot_id     INTEGER NOT NULL,
    update_id  INTEGER NOT NULL,
    claimed_at TEXT    NOT NULL,
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;
CREATE INDEX processed_updates_claimed_at ON processed_updates (claimed_at);
