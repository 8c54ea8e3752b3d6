package tls

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// newLocalSetup is a router serving a Manager with the local CA.
func newLocalSetup(t *testing.T, dataDir, domain string, tune tuning, reg *prometheus.Registry) (*testRouter, *Manager, *allowSuffix) {
	t.Helper()
	r := listenRouter(t)
	allow := &allowSuffix{domain: domain}
	m, err := newManager(t.Context(), Config{DataDir: dataDir, Allowed: allow.allowed, Log: newTestLogs(t).logger(), Registry: reg}, tune)
	if err != nil {
		t.Fatal(err)
	}
	r.serve(t, m)
	return r, m, allow
}

// TestLocalCA: a client that trusts RootPEM gets a valid chain for an
// allowed or managed name; a refused name and a handshake without SNI
// fail without an issuance; files are private; a second Manager on the
// same DataDir reuses the CA and the certificate.
func TestLocalCA(t *testing.T) {
	t.Parallel()
	domain := testDomain(t)
	dataDir := t.TempDir()
	reg := prometheus.NewRegistry()
	r, m, _ := newLocalSetup(t, dataDir, domain, tuning{}, reg)
	addr := r.httpsLn.Addr().String()
	rootPEM, err := m.RootPEM()
	if err != nil {
		t.Fatal(err)
	}
	roots := pemPool(t, rootPEM)

	app := "app." + domain
	leaf, err := handshake(addr, app, roots)
	if err != nil {
		t.Fatalf("on-demand %s: %v", app, err)
	}
	if !slices.Equal(leaf.DNSNames, []string{app}) {
		t.Errorf("names %v", leaf.DNSNames)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life < 7*24*time.Hour || life > 7*24*time.Hour+2*time.Minute {
		t.Errorf("lifetime %s, want 7 days", life)
	}
	if _, err := handshake(addr, "evil.example.com", roots); err == nil {
		t.Error("a refused name got a certificate")
	}
	if _, err := handshake(addr, "", roots); err == nil {
		t.Error("a handshake without SNI succeeded")
	}
	if got := m.local.issued.Load(); got != 1 {
		t.Errorf("%d issuances, want 1", got)
	}

	svc := "svc." + domain
	if err := m.Manage(t.Context(), []string{svc, "bad_name", "10.0.0.1"}); err == nil || !strings.Contains(err.Error(), "bad_name") || !strings.Contains(err.Error(), "10.0.0.1") {
		t.Errorf("Manage with invalid names: %v", err)
	}
	waitIssued(t, m, 10*time.Second, svc)
	first, err := handshake(addr, svc, roots)
	if err != nil {
		t.Fatalf("managed %s: %v", svc, err)
	}
	st := m.Status(svc)[0]
	if st.Issuer != localIssuerName || !st.Managed || st.LastError != "" || st.Warning != "" || !st.NotAfter.Equal(first.NotAfter) {
		t.Errorf("status %+v", st)
	}
	all := m.Status()
	if len(all) != 2 || all[0].Name != app || all[1].Name != svc || all[0].Managed {
		t.Errorf("Status() = %+v", all)
	}

	// Every file private, every directory too.
	for _, dir := range []string{"ca", "certs"} {
		err := filepath.WalkDir(filepath.Join(dataDir, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if info.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", path, info.Mode().Perm(), want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"ca/root.pem", "ca/intermediate.pem"} {
		if _, err := os.Stat(filepath.Join(dataDir, f)); err != nil {
			t.Error(err)
		}
	}
	if v := gaugeValue(t, reg, "apprun_certificate_expiry_seconds", svc); v < 6*24*3600 {
		t.Errorf("expiry gauge %v", v)
	}
	m.Stop()

	// A second Manager (another process, or a restart) reuses everything.
	// (on the same registry: Stop unregistered the first one's metrics)
	r2, m2, _ := newLocalSetup(t, dataDir, domain, tuning{}, reg)
	root2, err := m2.RootPEM()
	if err != nil {
		t.Fatal(err)
	}
	if string(root2) != string(rootPEM) {
		t.Error("the second Manager made a new root")
	}
	if err := m2.Manage(t.Context(), []string{svc}); err != nil {
		t.Fatal(err)
	}
	waitIssued(t, m2, 10*time.Second, svc)
	again, err := handshake(r2.httpsLn.Addr().String(), svc, roots)
	if err != nil {
		t.Fatal(err)
	}
	if again.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Error("the second Manager issued a new certificate instead of loading the stored one")
	}
	if _, err := handshake(r2.httpsLn.Addr().String(), app, roots); err != nil {
		t.Errorf("stored on-demand certificate: %v", err)
	}
	if got := m2.local.issued.Load(); got != 0 {
		t.Errorf("the second Manager issued %d certificates", got)
	}
}

// TestLocalCARenewal: managed local-CA certificates are renewed in the
// background with at least a third of their lifetime left, and a name
// taken out of the managed set stops being served once refused.
func TestLocalCARenewal(t *testing.T) {
	t.Parallel()
	const lifetime = 30 * time.Second
	domain := testDomain(t)
	r, m, _ := newLocalSetup(t, t.TempDir(), domain, tuning{leafLifetime: lifetime, checkInterval: 100 * time.Millisecond}, nil)
	addr := r.httpsLn.Addr().String()
	rootPEM, err := m.RootPEM()
	if err != nil {
		t.Fatal(err)
	}
	roots := pemPool(t, rootPEM)
	svc := "svc." + domain
	if err := m.Manage(t.Context(), []string{svc}); err != nil {
		t.Fatal(err)
	}
	waitIssued(t, m, 10*time.Second, svc)
	first, err := handshake(addr, svc, roots)
	if err != nil {
		t.Fatal(err)
	}
	var renewed time.Time
	waitFor(t, 2*lifetime, "a renewed certificate", func() bool {
		st := m.Status(svc)[0]
		if st.NotBefore.After(first.NotBefore) {
			renewed = time.Now()
			return true
		}
		return false
	})
	life := first.NotAfter.Sub(first.NotBefore)
	if left := first.NotAfter.Sub(renewed); left < life/3 {
		t.Errorf("renewed with %s of %s left", left, life)
	} else {
		t.Logf("renewed with %s of %s left (%.2f)", left.Round(time.Millisecond), life, left.Seconds()/life.Seconds())
	}
	if _, err := handshake(addr, svc, roots); err != nil {
		t.Fatal(err)
	}

	// Out of the managed set, and not allowed: no longer served.
	other := "svc.elsewhere.test"
	if err := m.Manage(t.Context(), []string{other}); err != nil {
		t.Fatal(err)
	}
	waitIssued(t, m, 10*time.Second, other)
	if _, err := handshake(addr, other, roots); err != nil {
		t.Fatal(err)
	}
	if err := m.Manage(t.Context(), []string{svc}); err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(addr, other, roots); err == nil {
		t.Error("a name taken out of Manage and refused by Allowed is still served")
	}
	if st := m.Status(svc, other); !st[0].Managed || st[1].Managed {
		t.Errorf("status %+v", st)
	}
}

// TestLocalCAIntermediateRotation: the intermediate is replaced once a
// third of its lifetime is left; the root stays, and new leaves chain to
// it.
func TestLocalCAIntermediateRotation(t *testing.T) {
	t.Parallel()
	ca := &localCA{storage: newFileStorage(t.TempDir()), leafLifetime: 7 * 24 * time.Hour}
	ctx := context.Background()
	now := time.Now()
	inter1, _, err := ca.intermediate(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	root1, err := ca.rootPEM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inter2, _, _ := ca.intermediate(ctx, now.Add(200*24*time.Hour)); !inter2.Equal(inter1) {
		t.Error("intermediate replaced with 165 days left")
	}
	later := now.Add(250 * 24 * time.Hour)
	inter3, _, err := ca.intermediate(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	if inter3.Equal(inter1) {
		t.Fatal("intermediate not replaced with 115 days left")
	}
	if root2, _ := ca.rootPEM(ctx); string(root2) != string(root1) {
		t.Error("root changed")
	}
	// A fresh process loads the new intermediate.
	ca2 := &localCA{storage: ca.storage, leafLifetime: time.Hour}
	inter4, _, err := ca2.intermediate(ctx, later)
	if err != nil || !inter4.Equal(inter3) {
		t.Errorf("reloaded intermediate differs (%v)", err)
	}
	block, _ := pem.Decode(root1)
	root, _ := x509.ParseCertificate(block.Bytes)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := inter3.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: later, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("new intermediate does not chain to the root: %v", err)
	}
}
