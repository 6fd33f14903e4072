-- RobotID registry, SQLite. PostgreSQL has the same tables in
-- migrations/postgres; the store's queries run unchanged on both.
-- Times are unix seconds, booleans 0/1: both travel as 64-bit integers
-- through sqlx's Any driver. STRICT makes SQLite refuse a value of the
-- wrong type instead of storing it.

CREATE TABLE manufacturers (
    code        TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    country     TEXT    NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- A model type approved for a manufacturer; rules in the policies/ TOML format.
CREATE TABLE models (
    manufacturer_code  TEXT    NOT NULL REFERENCES manufacturers (code),
    model              TEXT    NOT NULL,
    rules_toml         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (manufacturer_code, model)
) STRICT;

-- API client certificates the CA issued (operator and manufacturers).
CREATE TABLE credentials (
    serial_hex         TEXT    PRIMARY KEY,
    role               TEXT    NOT NULL CHECK (role IN ('operator', 'manufacturer')),
    manufacturer_code  TEXT    REFERENCES manufacturers (code),
    subject            TEXT    NOT NULL,
    not_after          INTEGER NOT NULL,
    revoked            INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    revoked_at         INTEGER,
    created_at         INTEGER NOT NULL,
    -- A manufacturer credential names its manufacturer; the operator's none.
    CHECK ((role = 'manufacturer') = (manufacturer_code IS NOT NULL))
) STRICT;

-- Robot IDs are unique for ever, under one manufacturer and model.
CREATE TABLE robots (
    robot_id           TEXT    PRIMARY KEY,
    manufacturer_code  TEXT    NOT NULL,
    model              TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    FOREIGN KEY (manufacturer_code, model) REFERENCES models (manufacturer_code, model)
) STRICT;

-- Every serial ever recorded, from before signing (pending) on; rows are
-- never deleted, so a serial is never reused.
CREATE TABLE certificates (
    serial_hex     TEXT    PRIMARY KEY,
    robot_id       TEXT    NOT NULL REFERENCES robots (robot_id),
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'issued', 'failed', 'superseded')),
    der            BLOB,
    csr_sha256     BLOB    NOT NULL,
    spki_sha256    BLOB    NOT NULL,
    csr_der        BLOB    NOT NULL,
    reissue        INTEGER NOT NULL CHECK (reissue IN (0, 1)),
    not_before     INTEGER NOT NULL,
    not_after      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    issued_at      INTEGER,
    superseded_by  TEXT,
    superseded_at  INTEGER,
    failed_at      INTEGER,
    failure_reason TEXT,
    -- Signed certificates (issued, then perhaps superseded) have their DER
    -- and issue time; pending and failed ones have neither.
    CHECK ((status IN ('issued', 'superseded')) = (der IS NOT NULL AND issued_at IS NOT NULL)),
    CHECK ((status = 'superseded') = (superseded_by IS NOT NULL))
) STRICT;

-- The rule "one live certificate per robot", kept by the database itself so
-- that concurrent requests cannot both win.
CREATE UNIQUE INDEX certificates_one_live ON certificates (robot_id)
    WHERE status IN ('pending', 'issued');
CREATE INDEX certificates_by_robot ON certificates (robot_id);

-- Key components certified in a certificate, in request order. Clustered
-- on its key (WITHOUT ROWID): one B-tree per insert instead of two.
CREATE TABLE components (
    serial_hex   TEXT    NOT NULL REFERENCES certificates (serial_hex),
    position     INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    part_number  TEXT    NOT NULL,
    supplier     TEXT    NOT NULL,
    serial       TEXT    NOT NULL,
    digests      TEXT    NOT NULL, -- JSON array of "sha256:<hex>"
    PRIMARY KEY (serial_hex, position)
) STRICT, WITHOUT ROWID;

-- Who did what, when. Append-only: the triggers refuse changes, so the
-- history cannot be rewritten through the store's connection.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    detail   TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
