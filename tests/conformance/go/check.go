// Command check judges RobotID's artefacts with Go's crypto/x509 and
// golang.org/x/crypto/ocsp, an implementation independent of OpenSSL,
// pyca/cryptography and rustls-webpki.
//
// Usage:
//
//	check chain ROOT.pem INTERMEDIATE.pem LEAF.pem [client|server|any]
//	check crl CRL(.der|.pem) ISSUER.pem
//	check ocsp RESPONSE.der CERT.pem ISSUER.pem [good|revoked|unknown]
//
// It prints one line per check. Exit status: 0 every check passed, 1 a
// check failed, 2 bad usage or an unreadable file.
//
// Built in GOPATH mode against Debian's golang-go and
// golang-golang-x-crypto-dev (GO111MODULE=off GOPATH=/usr/share/gocode), so
// it needs no network.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"golang.org/x/crypto/ocsp"
)

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "usage error:", msg)
	os.Exit(2)
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

// der reads a file and returns the DER of its first PEM block, or the file
// itself when it is not PEM.
func der(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		usage(err.Error())
	}
	if block, _ := pem.Decode(data); block != nil {
		return block.Bytes
	}
	return data
}

func cert(path string) *x509.Certificate {
	c, err := x509.ParseCertificate(der(path))
	if err != nil {
		fail("%s does not parse: %v", path, err)
	}
	return c
}

func main() {
	if len(os.Args) < 2 {
		usage("no subcommand")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "chain":
		if len(args) < 3 {
			usage("chain ROOT INTERMEDIATE LEAF [client|server|any]")
		}
		usage := x509.ExtKeyUsageClientAuth
		if len(args) > 3 {
			switch args[3] {
			case "client":
			case "server":
				usage = x509.ExtKeyUsageServerAuth
			case "any":
				usage = x509.ExtKeyUsageAny
			default:
				fail("unknown purpose %q", args[3])
			}
		}
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(cert(args[0]))
		inters.AddCert(cert(args[1]))
		leaf := cert(args[2])
		chains, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inters,
			CurrentTime:   time.Now(),
			KeyUsages:     []x509.ExtKeyUsage{usage},
		})
		if err != nil {
			fail("chain of %s does not verify: %v", args[2], err)
		}
		fmt.Printf("PASS chain %s: %d path(s), %d certificates\n", leaf.Subject, len(chains), len(chains[0]))
	case "crl":
		if len(args) != 2 {
			usage("crl CRL ISSUER")
		}
		crl, err := x509.ParseRevocationList(der(args[0]))
		if err != nil {
			fail("CRL %s does not parse: %v", args[0], err)
		}
		if err := crl.CheckSignatureFrom(cert(args[1])); err != nil {
			fail("CRL signature does not verify with %s: %v", args[1], err)
		}
		fmt.Printf("PASS crl number %v, %d entries, next update %s\n", crl.Number, len(crl.RevokedCertificates), crl.NextUpdate.Format(time.RFC3339))
	case "ocsp":
		if len(args) < 3 {
			usage("ocsp RESPONSE CERT ISSUER [good|revoked|unknown]")
		}
		resp, err := ocsp.ParseResponseForCert(der(args[0]), cert(args[1]), cert(args[2]))
		if err != nil {
			fail("OCSP response %s does not parse for %s: %v", args[0], args[1], err)
		}
		status := map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}[resp.Status]
		if len(args) > 3 && args[3] != status {
			fail("OCSP status %s, expected %s", status, args[3])
		}
		fmt.Printf("PASS ocsp %s for serial %x, next update %s\n", status, resp.SerialNumber, resp.NextUpdate.Format(time.RFC3339))
	default:
		usage("unknown subcommand " + os.Args[1])
	}
}
