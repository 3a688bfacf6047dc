-- The enterprise register (企业核心表), bindings of collected persons to enterprises, and the two
-- guards of the functions 2–6 that must survive /start: face step-ups and pauses after failures.

-- Taxpayer ids and enterprise names are public registration data: stored plain.
CREATE TABLE enterprises (
    id          INTEGER PRIMARY KEY,
    taxpayer_id TEXT    NOT NULL UNIQUE,  -- 纳税人识别号 (unified social credit code), normalised
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('active', 'suspended', 'deregistered')),
    loaded_at   TEXT    NOT NULL,
    loaded_by   INTEGER
);

-- The people the register lists for an enterprise, by role; found by the blind index of their
-- document number (kind = doc_type, as in persons).
CREATE TABLE enterprise_people (
    id            INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    role          TEXT    NOT NULL
        CHECK (role IN ('legal_rep', 'finance_officer', 'tax_handler', 'invoice_buyer')),
    doc_type      TEXT    NOT NULL,
    number_index  TEXT    NOT NULL,
    number_enc    TEXT    NOT NULL,
    name_enc      TEXT    NOT NULL,
    phone_enc     TEXT,
    loaded_at     TEXT    NOT NULL,
    loaded_by     INTEGER,
    UNIQUE (enterprise_id, role, doc_type, number_index)
);
CREATE INDEX enterprise_people_number ON enterprise_people (doc_type, number_index);

-- A collected person bound to an enterprise in a role; unbinding keeps the row for history.
CREATE TABLE enterprise_bindings (
    id            INTEGER PRIMARY KEY,
    person_id     INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    role          TEXT    NOT NULL,
    bound_at      TEXT    NOT NULL,
    bound_by      INTEGER,            -- Telegram user id; NULL = the system
    unbound_at    TEXT,
    unbound_by    INTEGER
);
CREATE UNIQUE INDEX enterprise_bindings_current
    ON enterprise_bindings (person_id, enterprise_id, role) WHERE unbound_at IS NULL;
CREATE INDEX enterprise_bindings_enterprise ON enterprise_bindings (enterprise_id) WHERE unbound_at IS NULL;

-- The last face step-up (刷脸) of a Telegram account, for the functions that require a fresh one.
CREATE TABLE face_stepups (
    user_id   INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    at        TEXT    NOT NULL
);

-- Failed attempts of a guarded step (e.g. the face comparison of 实名信息变更) and the pause they led
-- to. key: "user:<telegram id>" or a blind index of a document, so neither a new dialog nor another
-- Telegram account starts the count again.
CREATE TABLE step_pauses (
    scope            TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,
    first_failure_at TEXT,
    paused_until     TEXT,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
