// csrgen: Go's crypto/x509.CreateCertificateRequest makes a key and a CSR, as a Go service
// (or a Collector that keeps its own key) would before asking otelpki to sign it.
//
//	csrgen KEYTYPE CN KEYFILE CSRFILE [SAN...]
//
// KEYTYPE is ecdsa-p256, ecdsa-p384, ed25519 or rsa-2048. The key is written as PKCS#8 PEM
// (mode 0600), the CSR as PEM. A SAN that parses as an IP address is an IP SAN, anything
// else a DNS name. Exit 2 on unusable input.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "csrgen:", err)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 5 {
		fail(fmt.Errorf("usage: csrgen KEYTYPE CN KEYFILE CSRFILE [SAN...]"))
	}
	var key crypto.Signer
	var err error
	switch os.Args[1] {
	case "ecdsa-p256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "rsa-2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = fmt.Errorf("unknown key type %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	template := &x509.CertificateRequest{Subject: pkix.Name{CommonName: os.Args[2]}}
	for _, san := range os.Args[5:] {
		if ip := net.ParseIP(san); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, san)
		}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, template, key)
	if err != nil {
		fail(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		fail(err)
	}
	keyPem := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := os.WriteFile(os.Args[3], keyPem, 0o600); err != nil {
		fail(err)
	}
	csrPem := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})
	if err := os.WriteFile(os.Args[4], csrPem, 0o644); err != nil {
		fail(err)
	}
}
