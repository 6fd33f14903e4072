-- Revocation: permanent revocations and certificate holds, the CRL numbers,
-- and the indexes the revocation service polls. Same tables as
-- migrations/sqlite/0002_revocation.sql.

-- One row per certificate that was ever revoked or held. A permanent
-- revocation ('revoked') is final; a hold ('held', reason certificateHold)
-- can be released ('released': the certificate is good again) and held
-- again. Rows are never deleted, so a released hold stays on record.
-- A superseded certificate (certificates.status) counts as revoked with
-- reason superseded unless a row here says more.
CREATE TABLE revocations (
    serial_hex  TEXT   PRIMARY KEY REFERENCES certificates (serial_hex),
    robot_id    TEXT   NOT NULL REFERENCES robots (robot_id),
    state       TEXT   NOT NULL CHECK (state IN ('revoked', 'held', 'released')),
    reason      TEXT   NOT NULL CHECK (reason IN ('unspecified', 'keyCompromise',
                    'affiliationChanged', 'superseded', 'cessationOfOperation',
                    'certificateHold', 'privilegeWithdrawn')),
    revoked_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CHECK ((state = 'revoked') = (reason <> 'certificateHold'))
);
CREATE INDEX revocations_by_update ON revocations (updated_at);
CREATE INDEX revocations_by_robot ON revocations (robot_id);

-- A permanent revocation is never undone, whoever writes to the database.
CREATE FUNCTION revocations_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'revocations are never deleted';
    END IF;
    IF OLD.state = 'revoked' AND NEW.state <> 'revoked' THEN
        RAISE EXCEPTION 'a permanent revocation cannot be undone';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER revocations_guard BEFORE UPDATE OR DELETE ON revocations
    FOR EACH ROW EXECUTE FUNCTION revocations_guard();
CREATE TRIGGER revocations_no_truncate BEFORE TRUNCATE ON revocations
    FOR EACH STATEMENT EXECUTE FUNCTION revocations_guard();

-- Each issuer's last CRL number: CRL numbers only grow (RFC 5280 5.2.3),
-- across restarts and across servers sharing the registry.
CREATE TABLE crl_numbers (
    issuer_id  TEXT   PRIMARY KEY,
    number     BIGINT NOT NULL
);

-- The OCSP responder polls for newly signed and newly superseded
-- certificates, so that it signs their responses ahead of any request.
CREATE INDEX certificates_by_issued_at ON certificates (issued_at)
    WHERE issued_at IS NOT NULL;
CREATE INDEX certificates_by_superseded_at ON certificates (superseded_at)
    WHERE superseded_at IS NOT NULL;
