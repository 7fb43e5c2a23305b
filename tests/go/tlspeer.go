// tlspeer: Go's crypto/tls (the OpenTelemetry Collector's TLS stack) as a test peer.
//
//	tlspeer server CA CERT KEY     mTLS server on 127.0.0.1:0; prints "listening PORT", then one
//	                               line per connection: "ok CN" or "error MESSAGE"; stops when
//	                               stdin closes.
//	tlspeer client ADDR NAME CA [CERT KEY]
//	                               one handshake with ADDR for server name NAME; prints "ok" or
//	                               "error MESSAGE"; exit 0 either way, 2 on unusable input.
//
// The server is configured as the Collector's configtls does for a receiver with
// client_ca_file: tls.RequireAndVerifyClientCert with the CA as ClientCAs, TLS 1.2 minimum.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func pool(path string) *x509.CertPool {
	pem, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		fail(fmt.Errorf("no certificate in %s", path))
	}
	return p
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tlspeer:", err)
	os.Exit(2)
}

func server(ca, cert, key string) {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		fail(err)
	}
	config := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(ca),
		MinVersion:   tls.VersionTLS12,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	// The test closes stdin to stop the server; a lost test process does the same.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	out := bufio.NewWriter(os.Stdout)
	for {
		conn, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		t := tls.Server(conn, config)
		if err := t.Handshake(); err != nil {
			fmt.Fprintf(out, "error %v\n", err)
		} else {
			state := t.ConnectionState()
			fmt.Fprintf(out, "ok %s\n", state.PeerCertificates[0].Subject.CommonName)
			// A byte, so that a TLS 1.3 client learns the server accepted its certificate.
			t.Write([]byte("."))
		}
		out.Flush()
		t.Close()
	}
}

func client(addr, name, ca string, pairFiles []string) {
	config := &tls.Config{ServerName: name, RootCAs: pool(ca), MinVersion: tls.VersionTLS12}
	if len(pairFiles) == 2 {
		pair, err := tls.LoadX509KeyPair(pairFiles[0], pairFiles[1])
		if err != nil {
			fail(err)
		}
		// Always present it: with config.Certificates, Go withholds a certificate whose
		// issuer is not among the CAs the server names, and the server could not judge it.
		config.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &pair, nil
		}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, config)
	if err == nil {
		// Under TLS 1.3 the server's verdict on the client certificate comes after the
		// handshake: read its byte (or its alert).
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err != nil {
		fmt.Printf("error %v\n", err)
	} else {
		fmt.Println("ok")
	}
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 4 && args[0] == "server":
		server(args[1], args[2], args[3])
	case (len(args) == 4 || len(args) == 6) && args[0] == "client":
		client(args[1], args[2], args[3], args[4:])
	default:
		fail(fmt.Errorf("usage: tlspeer server CA CERT KEY | tlspeer client ADDR NAME CA [CERT KEY]"))
	}
}
