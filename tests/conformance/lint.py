#!/usr/bin/env python3
"""Run pkilint's RFC 5280 / RFC 6960 linters on RobotID artefacts.

Usage:
    python3 lint.py [--artifact NAME] [--allow CODE]... cert FILE           # lint_pkix_cert
    python3 lint.py [--artifact NAME] [--allow CODE]... chain ISSUER SUBJECT # lint_pkix_signer_signee_cert_chain
    python3 lint.py [--artifact NAME] [--allow CODE]... crl FILE [--type CRL|ARL]  # lint_crl -t CRL -p PKIX
    python3 lint.py [--artifact NAME] [--allow CODE]... ocsp FILE           # lint_ocsp_response

--allow and --artifact may also follow the subcommand. Inputs may be PEM,
DER or Base64 (pkilint detects the format).

--artifact NAME allows the codes that the allow-list (pkilint-allow.toml
beside this script, or --allow-list FILE) names for that artifact, each with
its reason. Every allowed code must be reported: an allowed finding that
disappears fails the run (a "STALE" line), so the list cannot go stale.

Each linter runs as `python3 -m pkilint.bin.<linter> lint -s ALL -f JSON ...`,
the very code behind pkilint's console scripts, with the same interpreter
as this script (so no PATH or pyenv-shim lookup is involved).

Every finding is printed, one per line:
    <SEVERITY> <code> @ <node path> [<validator>]: <message>
with "(allowed)" after the severity for allowed codes.

Exit status:
    0  no FATAL, ERROR or WARNING finding outside the allow-list, and every
       allowed code reported
    1  a FATAL, ERROR or WARNING finding not allowed, an allowed code not
       reported, or pkilint could not load the document (reported as a
       FATAL finding "lint.load_failed")
    2  bad usage, an unreadable input file, or pkilint missing or crashing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2

# WARNING fails too: pkilint's warnings are RFC 5280 SHOULDs (an end entity
# without subjectKeyIdentifier was one), and a gate that lets them through
# cannot see them.
FAILING_SEVERITIES = ("FATAL", "ERROR", "WARNING")

DEFAULT_ALLOW_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pkilint-allow.toml")

# subcommand -> pkilint module (the target of the console script of that name)
LINTERS = {
    "cert": "pkilint.bin.lint_pkix_cert",
    "chain": "pkilint.bin.lint_pkix_signer_signee_cert_chain",
    "crl": "pkilint.bin.lint_crl",
    "ocsp": "pkilint.bin.lint_ocsp_response",
}


class UsageError(Exception):
    """Bad arguments, unreadable input or a broken linter (exit 2)."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    def add_allow(p: argparse.ArgumentParser, dest: str) -> None:
        p.add_argument(
            "--allow",
            dest=dest,
            action="append",
            default=None,
            metavar="CODE",
            help="finding code not to fail on, e.g. pkix.invalid_uri_syntax (repeatable)",
        )
        if dest == "allow_sub":
            p.add_argument("--artifact", dest="artifact_sub", default=None, metavar="NAME")

    parser = argparse.ArgumentParser(
        prog="lint.py",
        description="Lint certificates, chains, CRLs and OCSP responses with pkilint.",
    )
    add_allow(parser, "allow_global")
    parser.add_argument("--artifact", dest="artifact_global", default=None, metavar="NAME",
                        help="allow what the allow-list names for this artifact")
    parser.add_argument("--allow-list", default=DEFAULT_ALLOW_LIST, metavar="FILE",
                        help="the allow-list (default: pkilint-allow.toml beside this script)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{cert,chain,crl,ocsp}")

    p = sub.add_parser("cert", help="RFC 5280 certificate linter (lint_pkix_cert)")
    p.add_argument("file", help="certificate (PEM/DER)")
    add_allow(p, "allow_sub")

    p = sub.add_parser(
        "chain",
        help="issuer/subject pair linter (lint_pkix_signer_signee_cert_chain)",
    )
    p.add_argument("issuer", help="issuer (signer) certificate")
    p.add_argument("subject", help="subject (signee) certificate")
    add_allow(p, "allow_sub")

    p = sub.add_parser("crl", help="RFC 5280 CRL linter (lint_crl -t CRL -p PKIX)")
    p.add_argument("file", help="CRL (PEM/DER)")
    p.add_argument(
        "--type",
        dest="crl_type",
        type=str.upper,
        choices=["CRL", "ARL"],
        default="CRL",
        help="CRL for an end-entity CRL (default), ARL for a CA revocation list",
    )
    add_allow(p, "allow_sub")

    p = sub.add_parser("ocsp", help="RFC 6960 OCSP response linter (lint_ocsp_response)")
    p.add_argument("file", help="DER OCSP response")
    add_allow(p, "allow_sub")

    # argparse exits with status 2 on bad usage.
    args = parser.parse_args(argv)
    args.allow = {
        code: "given with --allow"
        for code in (args.allow_global or []) + (getattr(args, "allow_sub", None) or [])
    }
    args.artifact = getattr(args, "artifact_sub", None) or args.artifact_global
    return args


def load_allow_list(path: str, artifact: str) -> dict[str, str]:
    """The codes allowed for `artifact`, each with its reason."""
    import tomllib

    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"cannot read the allow-list {path!r}: {e}") from e
    known = set(doc.get("artifacts", []))
    if artifact not in known:
        raise UsageError(f"artifact {artifact!r} is not in the allow-list's artifacts {sorted(known)}")
    out = {}
    for entry in doc.get("allow", []):
        code, reason, arts = entry.get("code"), entry.get("reason"), entry.get("artifacts", [])
        if not code or not reason or not arts or not set(arts) <= known:
            raise UsageError(f"allow-list entry {entry!r} needs a code, a reason and known artifacts")
        if artifact in arts:
            out[code] = reason
    return out


def check_readable(path: str) -> None:
    try:
        with open(path, "rb") as f:
            if not f.read(1):
                raise UsageError(f"input file {path!r} is empty")
    except OSError as e:
        raise UsageError(f"cannot read input file {path!r}: {e}") from e


def build_command(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Returns (command line, input files)."""
    module = LINTERS[args.command]
    common = ["lint", "-s", "ALL", "-f", "JSON"]
    if args.command == "chain":
        files = [args.issuer, args.subject]
        linter_args = common + files
    elif args.command == "crl":
        files = [args.file]
        linter_args = ["lint", "-t", args.crl_type, "-p", "PKIX", "-s", "ALL", "-f", "JSON"] + files
    else:
        files = [args.file]
        linter_args = common + files
    return [sys.executable, "-m", module] + linter_args, files


def run_linter(cmd: list[str]) -> tuple[list[dict], str | None]:
    """Runs pkilint; returns (findings, load failure message or None)."""
    env = dict(os.environ)
    env.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UsageError(f"cannot run pkilint ({' '.join(cmd)}): {e}") from e

    stdout = proc.stdout.strip()
    stderr = proc.stderr.strip()
    if not stdout:
        # pkilint prints "Failed to load ...: <reason>" to stderr and exits 1
        # when the document does not decode; anything else is a tool problem.
        if proc.returncode == 1 and stderr.startswith("Failed to load"):
            return [], stderr
        raise UsageError(
            f"pkilint produced no report (exit {proc.returncode}): {stderr or '(no stderr)'}"
        )

    try:
        report = json.loads(stdout)
        findings = []
        for result in report["results"]:
            for fd in result["finding_descriptions"]:
                findings.append(
                    {
                        "severity": fd["severity"],
                        "code": fd["code"],
                        "message": fd.get("message"),
                        "node_path": result.get("node_path", "?"),
                        "validator": result.get("validator", "?"),
                    }
                )
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"cannot parse pkilint's JSON report: {e}: {stdout[:500]!r}") from e
    if stderr:
        print(f"pkilint stderr: {stderr}", file=sys.stderr)
    return findings, None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    try:
        import importlib.metadata

        version = importlib.metadata.version("pkilint")
        __import__(LINTERS[args.command])
    except Exception as e:  # PackageNotFoundError, ImportError
        print(f"ERROR pkilint is not installed or broken: {type(e).__name__}: {e}")
        return EXIT_USAGE

    try:
        if args.artifact:
            args.allow.update(load_allow_list(args.allow_list, args.artifact))
        cmd, files = build_command(args)
        for path in files:
            check_readable(path)
        findings, load_failure = run_linter(cmd)
    except UsageError as e:
        print(f"ERROR {e}")
        return EXIT_USAGE

    target = " ".join(files)
    print(f"pkilint {version}: {args.command} {target}")

    if load_failure is not None:
        findings.append(
            {
                "severity": "FATAL",
                "code": "lint.load_failed",
                "message": load_failure,
                "node_path": "-",
                "validator": "loader",
            }
        )

    failing = 0
    allowed = 0
    seen = set()
    for f in findings:
        sev = f["severity"]
        is_blocking = sev in FAILING_SEVERITIES
        tag = sev
        if f["code"] in args.allow:
            seen.add(f["code"])
            tag += f" (allowed: {args.allow[f['code']]})"
            if is_blocking:
                allowed += 1
                is_blocking = False
        if is_blocking:
            failing += 1
        message = f["message"] if f["message"] else "-"
        print(f"{tag} {f['code']} @ {f['node_path']} [{f['validator']}]: {message}")
    stale = sorted(set(args.allow) - seen)
    for code in stale:
        print(f"STALE {code}: allowed but no longer reported; remove it from the allow-list")

    failed = failing or stale
    verdict = "FAIL" if failed else "PASS"
    print(
        f"{verdict}: {len(findings)} finding(s), {failing} blocking FATAL/ERROR/WARNING, "
        f"{allowed} allowed, {len(stale)} stale allow-list entries"
    )
    return EXIT_FAIL if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
