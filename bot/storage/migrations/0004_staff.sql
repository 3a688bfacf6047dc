-- The staff console: roles granted by admins, PIPL deletion requests, registers staged for loading.
-- Admins listed in the settings (ADMIN_IDS) are not stored: the settings are the root of trust, and a
-- row here can never demote them.

CREATE TABLE staff_roles (
    user_id    INTEGER PRIMARY KEY,  -- Telegram user id
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'reviewer')),
    granted_by INTEGER NOT NULL,
    granted_at TEXT    NOT NULL
);

-- A taxpayer's request to delete what is stored about them (PIPL art. 47), carried out or refused by
-- an admin. person_id is kept as a plain number (no foreign key): the row must outlive the erasure.
CREATE TABLE deletion_requests (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    person_id    INTEGER,
    status       TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'refused')),
    requested_at TEXT    NOT NULL,
    decided_at   TEXT,
    decided_by   INTEGER,
    note         TEXT                -- a reason code when refused
);
CREATE INDEX deletion_requests_queue ON deletion_requests (status, id);
CREATE UNIQUE INDEX deletion_requests_one_open ON deletion_requests (user_id) WHERE status = 'open';

-- A register (enterprises, identity registry) uploaded by an admin, validated and waiting for the
-- admin's confirmation. rows_enc: the accepted rows as encrypted JSON (they hold ID numbers and names);
-- NULL once applied or cancelled (the rows then live in the registers, or nowhere).
CREATE TABLE register_loads (
    id          INTEGER PRIMARY KEY,
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
