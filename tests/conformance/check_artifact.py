#!/usr/bin/env python3
"""pyca/cryptography's judgement of RobotID artefacts other than client chains
(check_chain.py does those).

Usage:
    python3 check_artifact.py server --root ROOT.pem --issuing ISSUING.pem --leaf LEAF.pem --host HOST
    python3 check_artifact.py crl --crl CRL.der --issuing ISSUING.pem
    python3 check_artifact.py ocsp --response RESP.der --issuing ISSUING.pem --status good|revoked

server: ServerVerifier for HOST (an IP address or DNS name), leaf -> issuing -> root.
crl:    the CRL parses and its signature verifies with the issuing CA's key.
ocsp:   the response parses, is successful, has the status asked for, and its
        signature verifies with the responder certificate it carries, which
        the issuing CA signed.

Exit status: 0 passed, 1 a check failed, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import sys


def load_cert(path: str):
    from cryptography import x509

    data = open(path, "rb").read()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def verify_signature(public_key, signature: bytes, data: bytes, hash_algorithm) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        public_key.verify(signature, data)
    else:
        raise ValueError(f"unexpected key type {type(public_key).__name__}")


def server(args) -> None:
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store

    try:
        subject = x509.IPAddress(ipaddress.ip_address(args.host))
    except ValueError:
        subject = x509.DNSName(args.host)
    verifier = (
        PolicyBuilder()
        .store(Store([load_cert(args.root)]))
        .time(datetime.datetime.now(tz=datetime.timezone.utc))
        .build_server_verifier(subject)
    )
    chain = verifier.verify(load_cert(args.leaf), [load_cert(args.issuing)])
    print(f"PASS server chain of {len(chain)} for {args.host}")


def crl(args) -> None:
    from cryptography import x509

    crl = x509.load_der_x509_crl(open(args.crl, "rb").read())
    if not crl.is_signature_valid(load_cert(args.issuing).public_key()):
        raise AssertionError("the CRL's signature does not verify with the issuing CA's key")
    number = crl.extensions.get_extension_for_class(x509.CRLNumber)
    print(f"PASS CRL number {number.value.crl_number}, {len(crl)} entries")


def ocsp(args) -> None:
    from cryptography.x509 import ocsp

    resp = ocsp.load_der_ocsp_response(open(args.response, "rb").read())
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise AssertionError(f"response status {resp.response_status}")
    status = resp.certificate_status.name.lower()
    if status != args.status:
        raise AssertionError(f"certificate status {status}, expected {args.status}")
    issuing = load_cert(args.issuing)
    responders = resp.certificates
    if not responders:
        raise AssertionError("the response carries no responder certificate")
    responder = responders[0]
    verify_signature(
        issuing.public_key(),
        responder.signature,
        responder.tbs_certificate_bytes,
        responder.signature_hash_algorithm,
    )
    verify_signature(
        responder.public_key(),
        resp.signature,
        resp.tbs_response_bytes,
        resp.signature_hash_algorithm,
    )
    print(f"PASS OCSP {status}, signed by {responder.subject.rfc4514_string()}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="check_artifact.py")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("server")
    for a in ("--root", "--issuing", "--leaf", "--host"):
        p.add_argument(a, required=True)
    p = sub.add_parser("crl")
    p.add_argument("--crl", required=True)
    p.add_argument("--issuing", required=True)
    p = sub.add_parser("ocsp")
    p.add_argument("--response", required=True)
    p.add_argument("--issuing", required=True)
    p.add_argument("--status", required=True, choices=["good", "revoked"])
    args = parser.parse_args()
    try:
        {"server": server, "crl": crl, "ocsp": ocsp}[args.command](args)
    except OSError as e:
        print(f"ERROR {e}")
        return 2
    except Exception as e:  # a verification or parsing failure
        print(f"FAIL {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
