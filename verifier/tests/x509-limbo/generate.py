#!/usr/bin/env python3
"""Generate RobotID's pinned, robot-shaped copy of x509-limbo's test cases.

Usage:
    python3 generate.py LIMBO_CHECKOUT OUT.json

LIMBO_CHECKOUT is C2SP/x509-limbo at the commit named in README.md (its
`limbo/` package; the published limbo.json is not needed). It runs limbo's
own generator, as `limbo compile` does, with one documented transformation
(README.md, "Robot-shaped"):

  * every certificate but a self-signed one (the roots, which are trust
    anchors and whose extensions path validation does not read) carries
    RobotID's robot-identity key purpose (id-robotid.2.1): added to its
    extendedKeyUsage, or as an extendedKeyUsage of its own (non-critical)
    when it has none. RobotID validates paths for that purpose only, and
    rustls-webpki 0.103 requires it in every certificate of the path,
    intermediates included (as RobotID's own issuing CA carries it).

The cases are limbo's own (crl, cve, invalid, pathlen, pathological,
rfc5280, webpki); the BetterTLS import and the cached online chains are
left out: they test DNS name matching of web PKI servers, which robot
certificates (named by a URN) never do.

Needs pydantic~=2.13 and cryptography~=46 (limbo's pins).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROBOT_IDENTITY_EKU = "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.2.1"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    checkout, out = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(checkout))

    from cryptography import x509

    robot = x509.ObjectIdentifier(ROBOT_IDENTITY_EKU)
    original_sign = x509.CertificateBuilder.sign

    def robot_shaped_sign(self, private_key, *args, **kwargs):
        from cryptography.hazmat.primitives import serialization

        def raw(key):
            return key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )

        exts = list(self._extensions)
        self_signed = self._public_key is not None and raw(self._public_key) == raw(
            private_key.public_key()
        )
        if self_signed:
            return original_sign(self, private_key, *args, **kwargs)
        found = False
        for i, e in enumerate(exts):
            if isinstance(e.value, x509.ExtendedKeyUsage):
                found = True
                usages = list(e.value)
                if robot not in usages:
                    exts[i] = x509.Extension(
                        e.oid, e.critical, x509.ExtendedKeyUsage(usages + [robot])
                    )
        if not found and self._version != x509.Version.v1:
            exts.append(
                x509.Extension(
                    x509.OID_EXTENDED_KEY_USAGE, False, x509.ExtendedKeyUsage([robot])
                )
            )
        self._extensions = exts
        return original_sign(self, private_key, *args, **kwargs)

    x509.CertificateBuilder.sign = robot_shaped_sign

    from limbo.models import Limbo
    from limbo.testcases import registry

    cases = [make() for _, make in sorted(registry.items())]
    out.write_text(Limbo(version=1, testcases=cases).model_dump_json(indent=1) + "\n")
    print(f"{len(cases)} test cases written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
