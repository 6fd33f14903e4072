#!/usr/bin/env python3
"""Independent check of a RobotID certificate chain with pyca/cryptography.

Usage:
    python3 check_chain.py --root ROOT.pem --issuing ISSUING.pem --leaf LEAF.pem \
        [--eku OID]... [--at UNIX_SECONDS]

Builds a client-certificate path (RFC 5280 plus the CA/B Forum-style profile
that cryptography's verifier enforces) from LEAF through ISSUING to ROOT, the
only trust anchor, at time --at (default: now). With --eku, also asserts that
the leaf's ExtendedKeyUsage extension lists each given OID.

Prints one line per check. Exit status:
    0  every check passed
    1  a check failed (the exception or the missing item is printed)
    2  bad usage, an unreadable or non-certificate input file, or a
       cryptography too old for the verification API (< 43.0.0)
"""

from __future__ import annotations

import argparse
import datetime
import sys

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2

MIN_CRYPTOGRAPHY = "43.0.0"  # PolicyBuilder.build_client_verifier / ClientVerifier


class UsageError(Exception):
    """Bad arguments or an input the harness cannot use (exit 2)."""


class CheckFailed(Exception):
    """A conformance check failed (exit 1)."""


def emit(status: str, what: str, detail: str = "") -> None:
    line = f"{status} {what}"
    if detail:
        line += f": {detail}"
    print(line, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="check_chain.py",
        description="Verify a RobotID leaf -> issuing CA -> root chain "
        "with cryptography's X.509 client verifier.",
    )
    parser.add_argument("--root", required=True, help="root CA certificate (PEM), the only trust anchor")
    parser.add_argument("--issuing", required=True, help="issuing (intermediate) CA certificate (PEM)")
    parser.add_argument("--leaf", required=True, help="end-entity (robot) certificate (PEM)")
    parser.add_argument(
        "--eku",
        action="append",
        default=[],
        metavar="OID",
        help="dotted OID the leaf's ExtendedKeyUsage must contain (repeatable)",
    )
    parser.add_argument(
        "--at",
        type=int,
        default=None,
        metavar="UNIX_SECONDS",
        help="verification time as seconds since the Unix epoch (default: now)",
    )
    # argparse itself exits with status 2 on bad usage.
    return parser.parse_args(argv)


def load_certificate(role: str, path: str):
    from cryptography import x509

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {role} certificate {path!r}: {e}") from e

    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError as e:
            # The file is a certificate, but a malformed one: that is the
            # issuer's fault, so it fails the check rather than the usage.
            raise CheckFailed(f"{role} certificate {path!r} does not parse: {e}") from e
    elif data[:1] == b"\x30":
        try:
            cert = x509.load_der_x509_certificate(data)
        except ValueError as e:
            raise CheckFailed(f"{role} certificate {path!r} (DER) does not parse: {e}") from e
    else:
        raise UsageError(f"{role} file {path!r} holds no PEM certificate")

    emit(
        "PASS",
        f"load {role}",
        f"{path} subject={cert.subject.rfc4514_string()!r} serial={cert.serial_number:#x}",
    )
    return cert


def verification_time(at: int | None) -> datetime.datetime:
    if at is None:
        return datetime.datetime.now(tz=datetime.timezone.utc)
    try:
        return datetime.datetime.fromtimestamp(at, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError) as e:
        raise UsageError(f"--at {at} is not a usable time: {e}") from e


def check_chain(root, issuing, leaf, when: datetime.datetime) -> None:
    from cryptography.x509.verification import PolicyBuilder, Store

    verifier = PolicyBuilder().store(Store([root])).time(when).build_client_verifier()
    try:
        verified = verifier.verify(leaf, [issuing])
    except Exception as e:  # VerificationError, UnsupportedGeneralNameType, ...
        raise CheckFailed(
            f"chain leaf -> issuing -> root does not verify at {when.isoformat()}: "
            f"{type(e).__name__}: {e}"
        ) from e

    chain = list(verified.chain)
    expected = [leaf, issuing, root]
    if chain != expected:
        names = " -> ".join(c.subject.rfc4514_string() for c in chain)
        raise CheckFailed(f"verifier built an unexpected path: {names}")
    emit(
        "PASS",
        "verify chain",
        f"leaf -> issuing -> root at {when.isoformat()} (ClientVerifier, clientAuth)",
    )

    subjects = verified.subjects
    if subjects:
        shown = ", ".join(f"{type(g).__name__}({g.value})" for g in subjects)
    else:
        shown = "none"
    emit("INFO", "leaf subjectAltName", shown)


def parse_oids(oids: list[str]) -> list:
    from cryptography import x509

    wanted = []
    for dotted in oids:
        try:
            wanted.append(x509.ObjectIdentifier(dotted))
        except ValueError as e:
            raise UsageError(f"--eku {dotted!r} is not a dotted OID: {e}") from e
    return wanted


def check_eku(leaf, wanted: list) -> None:
    from cryptography import x509

    try:
        ext = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as e:
        raise CheckFailed("leaf has no ExtendedKeyUsage extension") from e

    present = {oid.dotted_string for oid in ext.value}
    for oid in wanted:
        if oid.dotted_string not in present:
            raise CheckFailed(
                f"leaf ExtendedKeyUsage lacks {oid.dotted_string} "
                f"(has: {', '.join(sorted(present)) or 'nothing'})"
            )
        emit("PASS", "leaf EKU contains", oid.dotted_string)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    try:
        import cryptography
        from cryptography.x509 import verification

        if not hasattr(verification.PolicyBuilder, "build_client_verifier"):
            raise ImportError("PolicyBuilder.build_client_verifier is missing")
    except ImportError as e:
        emit(
            "ERROR",
            "environment",
            f"cryptography >= {MIN_CRYPTOGRAPHY} with x509.verification is required: {e}",
        )
        return EXIT_USAGE
    emit("INFO", "cryptography", cryptography.__version__)

    try:
        when = verification_time(args.at)
        wanted_ekus = parse_oids(args.eku)
        root = load_certificate("root", args.root)
        issuing = load_certificate("issuing", args.issuing)
        leaf = load_certificate("leaf", args.leaf)
        check_chain(root, issuing, leaf, when)
        if wanted_ekus:
            check_eku(leaf, wanted_ekus)
    except UsageError as e:
        emit("ERROR", "usage", str(e))
        return EXIT_USAGE
    except CheckFailed as e:
        emit("FAIL", "check", str(e))
        return EXIT_FAIL

    emit("OK", "all checks passed")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
