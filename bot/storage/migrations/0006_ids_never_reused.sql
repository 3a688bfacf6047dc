-- Ids that are never reused (issue 21): a person, a review case, a binding or an uploaded register
-- erased or deleted must not hand its id to the next one, or the audit trail, /person and every
-- "个人 #N" would point at a newcomer. SQLite reuses the highest deleted rowid of an INTEGER PRIMARY KEY;
-- AUTOINCREMENT never does, and it can only be set by rebuilding the table (the procedure of
-- https://www.sqlite.org/lang_altertable.html#otheralter: new table, copy, drop, rename; the runner
-- switches foreign keys off for the rebuild and runs foreign_key_check before committing, so no
-- ON DELETE CASCADE fires on the drop and the children keep their rows and references).
-- The sequence starts above the highest id the audit log ever named, so an id erased before this
-- migration is not reused either. PostgreSQL identity columns never reuse ids: its 0006 only adds
-- the column below.
--
-- users.telegram_language: the language_code Telegram last sent for the account, the fallback for
-- messages sent outside the user's own update (notices, the SMS to a maintained person).

CREATE TABLE persons_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_type      TEXT NOT NULL,
    doc_index     TEXT NOT NULL,      -- blind index of the document number (kind = doc_type)
    residence_enc TEXT,               -- 居住地, changeable
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (doc_type, doc_index)
);
INSERT INTO persons_new SELECT * FROM persons;
DROP TABLE persons;
ALTER TABLE persons_new RENAME TO persons;


INSERT INTO sqlite_sequence (name, seq)
    SELECT 'persons', max(coalesce((SELECT max(id) FROM persons), 0),
                      coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'person' AND subject_id GLOB '[0-9]*'), 0))
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'persons');
UPDATE sqlite_sequence
   SET seq = max(seq, coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'person' AND subject_id GLOB '[0-9]*'), 0))
 WHERE name = 'persons';

CREATE TABLE review_cases_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO review_cases_new SELECT * FROM review_cases;
DROP TABLE review_cases;
ALTER TABLE review_cases_new RENAME TO review_cases;
CREATE INDEX review_cases_queue ON review_cases (status, id);
CREATE INDEX review_cases_user ON review_cases (user_id);

INSERT INTO sqlite_sequence (name, seq)
    SELECT 'review_cases', max(coalesce((SELECT max(id) FROM review_cases), 0),
                      coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'review_case' AND subject_id GLOB '[0-9]*'), 0))
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'review_cases');
UPDATE sqlite_sequence
   SET seq = max(seq, coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'review_case' AND subject_id GLOB '[0-9]*'), 0))
 WHERE name = 'review_cases';

CREATE TABLE enterprise_bindings_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id     INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    role          TEXT    NOT NULL,
    bound_at      TEXT    NOT NULL,
    bound_by      INTEGER,            -- Telegram user id; NULL = the system
    unbound_at    TEXT,
    unbound_by    INTEGER
);
INSERT INTO enterprise_bindings_new SELECT * FROM enterprise_bindings;
DROP TABLE enterprise_bindings;
ALTER TABLE enterprise_bindings_new RENAME TO enterprise_bindings;
CREATE UNIQUE INDEX enterprise_bindings_current
    ON enterprise_bindings (person_id, enterprise_id, role) WHERE unbound_at IS NULL;
CREATE INDEX enterprise_bindings_enterprise ON enterprise_bindings (enterprise_id) WHERE unbound_at IS NULL;

INSERT INTO sqlite_sequence (name, seq)
    SELECT 'enterprise_bindings', max(coalesce((SELECT max(id) FROM enterprise_bindings), 0),
                      coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'enterprise_binding' AND subject_id GLOB '[0-9]*'), 0))
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'enterprise_bindings');
UPDATE sqlite_sequence
   SET seq = max(seq, coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'enterprise_binding' AND subject_id GLOB '[0-9]*'), 0))
 WHERE name = 'enterprise_bindings';

CREATE TABLE register_loads_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('enterprises', 'identity_registry')),
    uploaded_by INTEGER NOT NULL,
    file_name   TEXT,
    rows_enc    TEXT,
    accepted    INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'cancelled')),
    created_at  TEXT    NOT NULL,
    decided_at  TEXT
);
INSERT INTO register_loads_new SELECT * FROM register_loads;
DROP TABLE register_loads;
ALTER TABLE register_loads_new RENAME TO register_loads;


INSERT INTO sqlite_sequence (name, seq)
    SELECT 'register_loads', max(coalesce((SELECT max(id) FROM register_loads), 0),
                      coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'register_load' AND subject_id GLOB '[0-9]*'), 0))
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'register_loads');
UPDATE sqlite_sequence
   SET seq = max(seq, coalesce((SELECT max(CAST(subject_id AS INTEGER)) FROM audit_log
                                WHERE subject_type = 'register_load' AND subject_id GLOB '[0-9]*'), 0))
 WHERE name = 'register_loads';

ALTER TABLE users ADD COLUMN telegram_language TEXT;
