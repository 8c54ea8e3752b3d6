package tls

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
)

// localCAIssuerKey names the local CA in certmagic's storage
// (DataDir/certs/certificates/apprun-local-ca/<name>/).
const localCAIssuerKey = "apprun-local-ca"

const (
	rootLifetime         = 10 * 365 * 24 * time.Hour
	intermediateLifetime = 365 * 24 * time.Hour
	// backdate covers clocks a little behind ours.
	backdate = time.Hour

	rootFile         = "root.pem"
	intermediateFile = "intermediate.pem"
	caLockName       = "apprun-local-ca"
)

// localCA is a two-level ECDSA P-256 CA: a root (10 years) and an
// intermediate (1 year, replaced once a third of its lifetime is left) that
// signs the leaves. Each pair (certificate and key) is one file written
// atomically with mode 0600 through certmagic's FileStorage in DataDir/ca,
// whose file lock also keeps two processes from creating two CAs. It
// implements certmagic.Issuer, so certmagic stores, renews and serves its
// leaves like any ACME certificate.
type localCA struct {
	storage      *certmagic.FileStorage
	leafLifetime time.Duration

	mu       sync.Mutex
	root     *x509.Certificate
	inter    *x509.Certificate
	interKey crypto.Signer

	issued atomic.Int64 // leaves signed by this process, for tests
}

var _ certmagic.Issuer = (*localCA)(nil)

// IssuerKey implements certmagic.Issuer.
func (ca *localCA) IssuerKey() string { return localCAIssuerKey }

// Issue implements certmagic.Issuer: it signs a leaf for the CSR's names
// with the intermediate; the chain is leaf + intermediate.
func (ca *localCA) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("local CA: csr signature: %w", err)
	}
	if len(csr.DNSNames) == 0 && len(csr.IPAddresses) == 0 {
		return nil, errors.New("local CA: csr names no host")
	}
	now := time.Now()
	inter, key, err := ca.intermediate(ctx, now)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		DNSNames:              csr.DNSNames,
		IPAddresses:           csr.IPAddresses,
		NotBefore:             now.Add(-min(time.Minute, ca.leafLifetime/100)),
		NotAfter:              earliest(now.Add(ca.leafLifetime), inter.NotAfter),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if len(csr.DNSNames) > 0 && len(csr.DNSNames[0]) <= 64 {
		tmpl.Subject.CommonName = csr.DNSNames[0]
	}
	if _, ok := csr.PublicKey.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, inter, csr.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("local CA: signing leaf: %w", err)
	}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw})...)
	ca.issued.Add(1)
	return &certmagic.IssuedCertificate{Certificate: chain}, nil
}

// rootPEM returns the root certificate, creating the CA if needed.
func (ca *localCA) rootPEM(ctx context.Context) ([]byte, error) {
	if _, _, err := ca.intermediate(ctx, time.Now()); err != nil {
		return nil, err
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw}), nil
}

// intermediate returns the signing certificate and key, loading or creating
// the CA on first use and replacing the intermediate once a third of its
// lifetime is left (well before any leaf could outlive it).
func (ca *localCA) intermediate(ctx context.Context, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.inter != nil && !dueForReplacement(ca.inter, now) {
		return ca.inter, ca.interKey, nil
	}
	// Another process may be creating or rotating the CA right now.
	if err := ca.storage.Lock(ctx, caLockName); err != nil {
		return nil, nil, fmt.Errorf("local CA: locking %s: %w", ca.storage.Path, err)
	}
	defer func() { _ = ca.storage.Unlock(context.WithoutCancel(ctx), caLockName) }()

	root, rootKey, err := ca.loadPair(ctx, rootFile)
	if errors.Is(err, fs.ErrNotExist) {
		root, rootKey, err = ca.create(ctx, rootFile, nil, nil, now)
	}
	if err != nil {
		return nil, nil, err
	}
	inter, interKey, err := ca.loadPair(ctx, intermediateFile)
	if err == nil && (dueForReplacement(inter, now) || inter.CheckSignatureFrom(root) != nil) {
		err = fs.ErrNotExist
	}
	if errors.Is(err, fs.ErrNotExist) {
		inter, interKey, err = ca.create(ctx, intermediateFile, root, rootKey, now)
	}
	if err != nil {
		return nil, nil, err
	}
	ca.root, ca.inter, ca.interKey = root, inter, interKey
	return inter, interKey, nil
}

func dueForReplacement(c *x509.Certificate, now time.Time) bool {
	return now.After(c.NotAfter.Add(-c.NotAfter.Sub(c.NotBefore) / 3))
}

// create makes a CA certificate: a self-signed root when parent is nil,
// else an intermediate signed by parent. It stores certificate and key as
// one PEM file.
func (ca *localCA) create(ctx context.Context, file string, parent *x509.Certificate, parentKey crypto.Signer, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	id := serial.Text(16)
	if len(id) > 8 {
		id = id[:8]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-backdate),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		tmpl.Subject = pkix.Name{Organization: []string{"apprun"}, CommonName: "apprun local root CA " + id}
		tmpl.NotAfter = now.Add(rootLifetime)
		tmpl.MaxPathLen = 1
		parent, parentKey = tmpl, key
	} else {
		tmpl.Subject = pkix.Name{Organization: []string{"apprun"}, CommonName: "apprun local intermediate CA " + id}
		tmpl.NotAfter = earliest(now.Add(intermediateLifetime), parent.NotAfter)
		tmpl.MaxPathLen = 0
		tmpl.MaxPathLenZero = true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("local CA: creating %s: %w", file, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := ca.storage.Store(ctx, file, buf.Bytes()); err != nil {
		return nil, nil, fmt.Errorf("local CA: writing %s: %w", file, err)
	}
	return cert, key, nil
}

// loadPair reads a certificate and its key written by create.
func (ca *localCA) loadPair(ctx context.Context, file string) (*x509.Certificate, crypto.Signer, error) {
	data, err := ca.storage.Load(ctx, file)
	if err != nil {
		return nil, nil, err
	}
	var cert *x509.Certificate
	var key crypto.Signer
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "CERTIFICATE":
			cert, err = x509.ParseCertificate(block.Bytes)
		case "PRIVATE KEY":
			var k any
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			key, _ = k.(crypto.Signer)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("local CA: reading %s: %w", file, err)
		}
	}
	if cert == nil || key == nil {
		return nil, nil, fmt.Errorf("local CA: %s lacks a certificate or key", file)
	}
	return cert, key, nil
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
