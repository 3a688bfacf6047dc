-- Portal handoffs (issue 20): the e-tax website or desktop client hands a collection or a face step-up
-- to the bot by a QR code. The token is stored only as its HMAC; the expected document number only as
-- an HMAC too. No personal data here: the result is signed and masked (result_jws).
CREATE TABLE handoffs (
    id               TEXT PRIMARY KEY,
    portal           TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    short_code       TEXT NOT NULL,
    expected_doc     TEXT,
    callback_url     TEXT,
    state            TEXT NOT NULL,
    user_id          INTEGER,
    person_id        INTEGER,
    method           TEXT,
    failure          TEXT,
    result_jws       TEXT,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    opened_at        TEXT,
    deadline_at      TEXT,
    finished_at      TEXT,
    callback_status  TEXT
);
CREATE INDEX handoffs_user ON handoffs (user_id, state);
