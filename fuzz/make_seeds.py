"""Makes the generated seeds of fuzz/seeds/ (docs/fuzzing.md).

    python3 fuzz/make_seeds.py      (from the repository root; needs `cryptography`)

csr_intake: CSRs with P-256, P-384 and Ed25519 keys carrying the identity
test vectors; robot_identity: the test vectors themselves; crl: Ed25519
tbsCertLists (the crl target signs them itself). Keys are fresh each time,
so the bytes differ from run to run; the checked-in seeds are one such run.
manifest and policy seeds are copies of examples/wk5/manifest.toml and
policies/*/*.toml; fuzz/seeds/manifest/components.toml is written by hand.
"""
import datetime, pathlib
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

root = pathlib.Path("fuzz/seeds")
oid = x509.ObjectIdentifier("1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.1.1")
vectors = {
    n: bytes.fromhex("".join(pathlib.Path(f"verifier/testdata/identity/{n}.der.hex").read_text().split()))
    for n in ("minimal", "full")
}
for n, v in vectors.items():
    (root / "robot_identity" / f"{n}.der").write_bytes(v)
keys = {"p256": (ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()),
        "p384": (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384()),
        "ed25519": (ed25519.Ed25519PrivateKey.generate(), None)}
for kname, (key, h) in keys.items():
    for vname, v in vectors.items():
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "UBX-WK5-00001234-I")]))
               .add_extension(x509.UnrecognizedExtension(oid, v), critical=False)
               .sign(key, h))
        if kname == "p256" and vname == "full":
            (root / "csr_intake" / f"{kname}-{vname}.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        else:
            (root / "csr_intake" / f"{kname}-{vname}.der").write_bytes(csr.public_bytes(serialization.Encoding.DER))

# CRLs: the crl target signs the tbsCertList it is given with its own Ed25519
# key, so the seeds are Ed25519 tbsCertLists.
ca = ed25519.Ed25519PrivateKey.generate()
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RobotID Issuing CA 1"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "RobotID")])
t = datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)
def crl(entries, idp, number):
    b = (x509.CertificateRevocationListBuilder().issuer_name(name)
         .last_update(t).next_update(t + datetime.timedelta(days=1))
         .add_extension(x509.CRLNumber(number), critical=False))
    if idp:
        b = b.add_extension(x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier("http://crl.example.test/issuing-1.crl")],
            relative_name=None, only_contains_user_certs=True, only_contains_ca_certs=False,
            only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False), critical=True)
    for serial, reason in entries:
        r = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(t - datetime.timedelta(hours=1))
        if reason is not None:
            r = r.add_extension(x509.CRLReason(reason), critical=False)
        b = b.add_revoked_certificate(r.build())
    return b.sign(ca, None)
for fname, c in {"empty": crl([], False, 1),
                 "entries-idp": crl([(0x01, None), (0x7f3a9c, x509.ReasonFlags.key_compromise), (2**120 + 5, x509.ReasonFlags.certificate_hold)], True, 42)}.items():
    (root / "crl" / f"{fname}.tbs.der").write_bytes(c.tbs_certlist_bytes)

import shutil
shutil.copy("examples/wk5/manifest.toml", root / "manifest" / "wk5.toml")
for p in sorted(pathlib.Path("policies").glob("*/*.toml")):
    shutil.copy(p, root / "policy" / p.name)
