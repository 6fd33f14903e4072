-- The certificates the CA issues for its own services and clients: the
-- server's TLS certificate, the delegated OCSP and lifecycle signers, the
-- operator's and manufacturers' credentials. Each row is written before
-- the issuing key signs (der NULL), and completed with the certificate.
CREATE TABLE ca_certificates (
    serial_hex   TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('operator', 'manufacturer', 'tls_server',
                     'ocsp_signer', 'lifecycle_signer')),
    subject      TEXT    NOT NULL,
    not_before   BIGINT  NOT NULL,
    not_after    BIGINT  NOT NULL,
    der          BYTEA,
    recorded_at  BIGINT  NOT NULL,
    issued_at    BIGINT
);
