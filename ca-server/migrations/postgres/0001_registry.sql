-- RobotID registry, PostgreSQL. SQLite has the same tables in
-- migrations/sqlite; the store's queries run unchanged on both.
-- Times are unix seconds, booleans 0/1: both travel as BIGINT through
-- sqlx's Any driver.

CREATE TABLE manufacturers (
    code        TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    country     TEXT   NOT NULL,
    active      BIGINT NOT NULL CHECK (active IN (0, 1)),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- A model type approved for a manufacturer; rules in the policies/ TOML format.
CREATE TABLE models (
    manufacturer_code  TEXT   NOT NULL REFERENCES manufacturers (code),
    model              TEXT   NOT NULL,
    rules_toml         TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (manufacturer_code, model)
);

-- API client certificates the CA issued (operator and manufacturers).
CREATE TABLE credentials (
    serial_hex         TEXT   PRIMARY KEY,
    role               TEXT   NOT NULL CHECK (role IN ('operator', 'manufacturer')),
    manufacturer_code  TEXT   REFERENCES manufacturers (code),
    subject            TEXT   NOT NULL,
    not_after          BIGINT NOT NULL,
    revoked            BIGINT NOT NULL CHECK (revoked IN (0, 1)),
    revoked_at         BIGINT,
    created_at         BIGINT NOT NULL,
    -- A manufacturer credential names its manufacturer; the operator's none.
    CHECK ((role = 'manufacturer') = (manufacturer_code IS NOT NULL))
);

-- Robot IDs are unique for ever, under one manufacturer and model.
CREATE TABLE robots (
    robot_id           TEXT   PRIMARY KEY,
    manufacturer_code  TEXT   NOT NULL,
    model              TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    FOREIGN KEY (manufacturer_code, model) REFERENCES models (manufacturer_code, model)
);

-- Every serial ever recorded, from before signing (pending) on; rows are
-- never deleted, so a serial is never reused.
CREATE TABLE certificates (
    serial_hex     TEXT   PRIMARY KEY,
    robot_id       TEXT   NOT NULL REFERENCES robots (robot_id),
    status         TEXT   NOT NULL CHECK (status IN ('pending', 'issued', 'failed', 'superseded')),
    der            BYTEA,
    csr_sha256     BYTEA  NOT NULL,
    spki_sha256    BYTEA  NOT NULL,
    csr_der        BYTEA  NOT NULL,
    reissue        BIGINT NOT NULL CHECK (reissue IN (0, 1)),
    not_before     BIGINT NOT NULL,
    not_after      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    issued_at      BIGINT,
    superseded_by  TEXT,
    superseded_at  BIGINT,
    failed_at      BIGINT,
    failure_reason TEXT,
    -- Signed certificates (issued, then perhaps superseded) have their DER
    -- and issue time; pending and failed ones have neither.
    CHECK ((status IN ('issued', 'superseded')) = (der IS NOT NULL AND issued_at IS NOT NULL)),
    CHECK ((status = 'superseded') = (superseded_by IS NOT NULL))
);

-- The rule "one live certificate per robot", kept by the database itself so
-- that concurrent requests, from one server process or many, cannot both win.
CREATE UNIQUE INDEX certificates_one_live ON certificates (robot_id)
    WHERE status IN ('pending', 'issued');
CREATE INDEX certificates_by_robot ON certificates (robot_id);

-- Key components certified in a certificate, in request order.
CREATE TABLE components (
    serial_hex   TEXT   NOT NULL REFERENCES certificates (serial_hex),
    position     BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    part_number  TEXT   NOT NULL,
    supplier     TEXT   NOT NULL,
    serial       TEXT   NOT NULL,
    digests      TEXT   NOT NULL, -- JSON array of "sha256:<hex>"
    PRIMARY KEY (serial_hex, position)
);

-- Who did what, when. Append-only: the triggers refuse changes, so the
-- history cannot be rewritten through the store's connection.
CREATE TABLE audit_log (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       BIGINT NOT NULL,
    actor    TEXT   NOT NULL,
    action   TEXT   NOT NULL,
    subject  TEXT   NOT NULL,
    detail   TEXT   NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
