-- PostgreSQL text of migrations/0008_face_pauses.sql (same version, same tables and columns; BIGINT for every
-- integer since Telegram ids exceed 32 bits).

-- Lasting face pauses (issue 16, item 4): after repeated failed selfies the pause belongs to the person
-- (the document's blind index, and the face itself) and to the Telegram account, so neither /start,
-- a new dialog, a restart of the bot nor a second account lifts it; each new pause is longer than the
-- one before. One row per key: "user:<telegram id>", "doc:<blind index>" (as persons.doc_index), or
-- "face:<random id>" with the encrypted encoding of a face seen failing (matched, never looked up).
-- doc_key ties a user or face row to the document its failures were for, so staff see and lift them
-- together in /person. No personal data in clear: ids, times, counts, blind indexes, ciphertext.
CREATE TABLE face_pauses (
    key              TEXT    PRIMARY KEY,
    kind             TEXT    NOT NULL,            -- user | document | face
    doc_key          TEXT,
    encoding_enc     TEXT,                        -- kind = face only
    failures         BIGINT  NOT NULL DEFAULT 0,  -- failed selfies since the last pause or pass
    first_failure_at TEXT,
    pauses           BIGINT  NOT NULL DEFAULT 0,  -- pauses so far: the next one lasts longer
    last_pause_at    TEXT,
    paused_until     TEXT,
    lifted_at        TEXT,
    lifted_by        BIGINT
);
CREATE INDEX face_pauses_doc ON face_pauses (doc_key);
CREATE INDEX face_pauses_kind_until ON face_pauses (kind, paused_until);
