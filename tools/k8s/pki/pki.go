// Package pki issues the throwaway certificates a local control plane and
// its add-ons need to trust each other: one self-signed CA, and serving or
// client certificates it signs, written as PEM files. Keys are ECDSA P-256
// and never leave the directory they are written to.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ErrPKI prefixes every error of this package.
var ErrPKI = errors.New("pki")

// validity of every certificate: long enough for any test run.
const validity = 24 * time.Hour

// CA is a certificate authority whose certificate is in CertFile.
type CA struct {
	// CertFile is the CA certificate (PEM).
	CertFile string
	// CertPEM is the same certificate's PEM bytes.
	CertPEM []byte
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
}

// NewCA creates a self-signed CA named name and writes its certificate to
// dir/<name>.crt.
func NewCA(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPKI, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPKI, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPKI, err)
	}
	ca := &CA{CertFile: filepath.Join(dir, name+".crt"), CertPEM: pemBytes("CERTIFICATE", der), cert: cert, key: key}
	if err := os.WriteFile(ca.CertFile, ca.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPKI, err)
	}
	return ca, nil
}

// Leaf names what Issue signs.
type Leaf struct {
	// CommonName is the subject's CN (a client certificate's user name).
	CommonName string
	// DNSNames and IPs are the subject alternative names of a serving
	// certificate.
	DNSNames []string
	IPs      []net.IP
	// Usages: x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth or both.
	Usages []x509.ExtKeyUsage
}

// Issue signs leaf and writes certFile and keyFile (the key readable by the
// owner only).
func (ca *CA) Issue(leaf Leaf, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPKI, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: leaf.CommonName},
		DNSNames:     leaf.DNSNames,
		IPAddresses:  leaf.IPs,
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  leaf.Usages,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPKI, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPKI, err)
	}
	if err := os.WriteFile(certFile, pemBytes("CERTIFICATE", der), 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrPKI, err)
	}
	if err := os.WriteFile(keyFile, pemBytes("EC PRIVATE KEY", kder), 0o600); err != nil {
		return fmt.Errorf("%w: %w", ErrPKI, err)
	}
	return nil
}

func pemBytes(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		// crypto/rand does not fail on Linux; a fixed serial would still
		// make a valid (if less unique) certificate.
		return big.NewInt(1)
	}
	return n
}
