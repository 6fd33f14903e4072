-- Revocation: permanent revocations and certificate holds, the CRL numbers,
-- and the indexes the revocation service polls.

-- One row per certificate that was ever revoked or held. A permanent
-- revocation ('revoked') is final; a hold ('held', reason certificateHold)
-- can be released ('released': the certificate is good again) and held
-- again. Rows are never deleted, so a released hold stays on record.
-- A superseded certificate (certificates.status) counts as revoked with
-- reason superseded unless a row here says more.
CREATE TABLE revocations (
    serial_hex  TEXT    PRIMARY KEY REFERENCES certificates (serial_hex),
    robot_id    TEXT    NOT NULL REFERENCES robots (robot_id),
    state       TEXT    NOT NULL CHECK (state IN ('revoked', 'held', 'released')),
    reason      TEXT    NOT NULL CHECK (reason IN ('unspecified', 'keyCompromise',
                    'affiliationChanged', 'superseded', 'cessationOfOperation',
                    'certificateHold', 'privilegeWithdrawn')),
    revoked_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK ((state = 'revoked') = (reason <> 'certificateHold'))
) STRICT;
CREATE INDEX revocations_by_update ON revocations (updated_at);
CREATE INDEX revocations_by_robot ON revocations (robot_id);

-- A permanent revocation is never undone, whoever writes to the database.
CREATE TRIGGER revocations_permanent BEFORE UPDATE ON revocations
WHEN OLD.state = 'revoked' AND NEW.state <> 'revoked'
BEGIN
    SELECT RAISE(ABORT, 'a permanent revocation cannot be undone');
END;
CREATE TRIGGER revocations_no_delete BEFORE DELETE ON revocations
BEGIN
    SELECT RAISE(ABORT, 'revocations are never deleted');
END;

-- Each issuer's last CRL number: CRL numbers only grow (RFC 5280 5.2.3),
-- across restarts and across servers sharing the registry.
CREATE TABLE crl_numbers (
    issuer_id  TEXT    PRIMARY KEY,
    number     INTEGER NOT NULL
) STRICT;

-- The OCSP responder polls for newly signed and newly superseded
-- certificates, so that it signs their responses ahead of any request.
CREATE INDEX certificates_by_issued_at ON certificates (issued_at)
    WHERE issued_at IS NOT NULL;
CREATE INDEX certificates_by_superseded_at ON certificates (superseded_at)
    WHERE superseded_at IS NOT NULL;
