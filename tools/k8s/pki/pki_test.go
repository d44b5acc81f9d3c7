package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/fraudscore/fraudscore/tools/k8s/pki"
)

// TestIssueVerifies: a serving certificate verifies against the CA for its
// DNS name and IP, and not for another name; a client certificate carries
// its common name.
func TestIssueVerifies(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA(dir, "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")
	leaf := pki.Leaf{CommonName: "svc", DNSNames: []string{"svc.ns.svc"}, IPs: []net.IP{net.ParseIP("10.255.0.1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if err := ca.Issue(leaf, crt, key); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.CertPEM) {
		t.Fatal("CA PEM does not parse")
	}
	for _, name := range []string{"svc.ns.svc", "10.255.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example"}); err == nil {
		t.Error("verified for a name it does not carry")
	}
	if cert.Subject.CommonName != "svc" {
		t.Errorf("CN %q", cert.Subject.CommonName)
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, %v", fi.Mode().Perm(), err)
	}
}
