-- Collected persons and what belongs to them. Every *_enc column is FieldCipher ciphertext bound to
-- its table and column; every *_index column is a FieldCipher blind index (equality only).
-- valid_from / valid_to stay plain so expiry can be queried; they identify nobody on their own.

CREATE TABLE persons (
    id            INTEGER PRIMARY KEY,
    doc_type      TEXT NOT NULL,
    doc_index     TEXT NOT NULL,      -- blind index of the document number (kind = doc_type)
    residence_enc TEXT,               -- 居住地, changeable
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (doc_type, doc_index)
);

-- Documents of a person; exactly one current (superseded_at IS NULL), older ones kept for history.
CREATE TABLE documents (
    id                INTEGER PRIMARY KEY,
    person_id         INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    doc_type          TEXT    NOT NULL,
    number_index      TEXT    NOT NULL,
    number_enc        TEXT    NOT NULL,
    name_enc          TEXT    NOT NULL,
    sex_enc           TEXT,
    ethnicity_enc     TEXT,
    birth_date_enc    TEXT,
    address_enc       TEXT,
    authority_enc     TEXT,
    valid_from        TEXT,
    valid_to          TEXT,
    long_term         INTEGER NOT NULL DEFAULT 0 CHECK (long_term IN (0, 1)),
    front_media_id    TEXT,
    back_media_id     TEXT,
    portrait_media_id TEXT,
    created_at        TEXT    NOT NULL,
    superseded_at     TEXT
);
CREATE UNIQUE INDEX documents_current ON documents (person_id) WHERE superseded_at IS NULL;
CREATE INDEX documents_number ON documents (doc_type, number_index);
CREATE INDEX documents_valid_to ON documents (valid_to) WHERE superseded_at IS NULL;

-- PIPL: which version of which document was agreed, and when.
CREATE TABLE consents (
    id               INTEGER PRIMARY KEY,
    person_id        INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    document         TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    text_hash        TEXT    NOT NULL,
    agreed_at        TEXT    NOT NULL,
    telegram_user_id INTEGER
);
CREATE INDEX consents_person ON consents (person_id);

-- Phones; one current per person. Not unique across persons (a family may share one).
CREATE TABLE phones (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    number_index TEXT    NOT NULL,
    number_enc   TEXT    NOT NULL,
    verified_at  TEXT,
    created_at   TEXT    NOT NULL,
    replaced_at  TEXT
);
CREATE UNIQUE INDEX phones_current ON phones (person_id) WHERE replaced_at IS NULL;
CREATE INDEX phones_number ON phones (number_index) WHERE replaced_at IS NULL;

-- The on-site (live) photo and its face encoding (encrypted packed float64).
CREATE TABLE live_photos (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    media_id     TEXT    NOT NULL,
    encoding_enc BLOB    NOT NULL,
    model        TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    replaced_at  TEXT
);
CREATE UNIQUE INDEX live_photos_current ON live_photos (person_id) WHERE replaced_at IS NULL;

-- A Telegram account is linked to at most one person (the "logged in" state); re-linkable.
CREATE TABLE telegram_links (
    user_id   INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    linked_at TEXT    NOT NULL
);
CREATE INDEX telegram_links_person ON telegram_links (person_id);

-- Verifications waiting for a human. payload_enc: the read fields etc. (encrypted JSON) so that an
-- approval can save the record without asking the taxpayer again.
CREATE TABLE review_cases (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'rejected')),
    user_id         INTEGER NOT NULL,
    person_id       INTEGER REFERENCES persons (id) ON DELETE SET NULL,
    reasons_json    TEXT    NOT NULL,
    media_ids_json  TEXT    NOT NULL,
    payload_enc     TEXT,
    created_at      TEXT    NOT NULL,
    decided_at      TEXT,
    decided_by      INTEGER,
    decision_reason TEXT
);
CREATE INDEX review_cases_queue ON review_cases (status, id);
CREATE INDEX review_cases_user ON review_cases (user_id);

-- Replay guard for submitted selfie videos: blind index of the content hash.
CREATE TABLE media_hashes (
    hash_index    TEXT PRIMARY KEY,
    first_seen_at TEXT NOT NULL
) WITHOUT ROWID;

-- One row per SMS code sent; rows are the send history the rate limits count.
-- phone_index is an HMAC under the OTP secret; code_hash an HMAC of user, phone and code.
CREATE TABLE otp_codes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    phone_index TEXT    NOT NULL,
    code_hash   TEXT    NOT NULL,
    sent_at     TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    consumed_at TEXT,
    superseded  INTEGER NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1))
);
CREATE INDEX otp_codes_user ON otp_codes (user_id, sent_at);
CREATE INDEX otp_codes_phone ON otp_codes (phone_index, sent_at);

-- The sandbox identity authority's registry, loaded by staff (or test fixtures).
CREATE TABLE identity_registry (
    id             INTEGER PRIMARY KEY,
    doc_type       TEXT NOT NULL,
    number_index   TEXT NOT NULL,
    name_enc       TEXT NOT NULL,
    birth_date_enc TEXT,
    photo_enc      BLOB,
    loaded_at      TEXT NOT NULL,
    loaded_by      INTEGER,
    UNIQUE (doc_type, number_index)
);

-- Statistics: one row per step outcome of a verification flow. No personal data.
CREATE TABLE verification_events (
    id          INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    user_id     INTEGER,
    attempt_id  TEXT,             -- one run of a dialog, to measure time to complete
    flow        TEXT    NOT NULL, -- collect, supplement, change, ...
    step        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    reason_code TEXT,
    duration_ms INTEGER
);
CREATE INDEX verification_events_at ON verification_events (at);
CREATE INDEX verification_events_flow ON verification_events (flow, step, at);
CREATE INDEX verification_events_attempt ON verification_events (attempt_id);
