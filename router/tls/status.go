package tls

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
)

// CertStatus is the state of one name's certificate, for the dashboard,
// the API and `apprun certs`.
type CertStatus struct {
	Name string
	// Issuer is "local CA" or the ACME directory's host; empty when there
	// is no certificate.
	Issuer              string
	NotBefore, NotAfter time.Time
	// Managed is true for names given to Manage (renewed in the
	// background), false for on-demand ones (renewed during handshakes).
	Managed bool
	// LastError is the last failed issuance or renewal since the last
	// success.
	LastError string
	// Warning is set when the certificate is in its renewal window (less
	// than 40 % of its lifetime left) and its last renewal failed, when it has
	// expired, or when a managed name has no certificate and its issuance
	// fails.
	Warning string
}

// Status reports on the given names, or on every name the Manager knows
// (managed, in memory, or failing) when none is given, sorted. It reads
// certmagic's cache, and storage for a name not in memory.
func (m *Manager) Status(names ...string) []CertStatus {
	now := time.Now()
	type known struct {
		managed          bool
		failures         int
		since            time.Time
		lastError        string
		hasState, stored bool
	}
	names = slices.Clone(names)
	m.mu.Lock()
	if len(names) == 0 {
		for n := range m.names {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	states := make([]known, len(names))
	for i, n := range names {
		n = normalizeSNI(n)
		names[i] = n
		if st, ok := m.names[n]; ok {
			states[i] = known{st.managed, st.failures, st.since, st.lastError, true, false}
		}
	}
	m.mu.Unlock()

	out := make([]CertStatus, len(names))
	for i, n := range names {
		k := states[i]
		s := CertStatus{Name: n, Managed: k.managed, LastError: k.lastError}
		leaf := m.leaf(n)
		if leaf != nil {
			s.Issuer, s.NotBefore, s.NotAfter = m.issuerName, leaf.NotBefore, leaf.NotAfter
		}
		switch {
		case leaf != nil && now.After(leaf.NotAfter):
			s.Warning = fmt.Sprintf("certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
			if k.failures > 0 {
				s.Warning += fmt.Sprintf("; renewal failing since %s: %s", k.since.UTC().Format(time.RFC3339), k.lastError)
			}
		case leaf != nil && k.failures > 0 && leaf.NotAfter.Sub(now) < time.Duration(float64(leaf.NotAfter.Sub(leaf.NotBefore))*renewalRatio):
			s.Warning = fmt.Sprintf("certificate expires in %s (%s) and its renewal has failed %d times since %s: %s",
				leaf.NotAfter.Sub(now).Round(time.Second), leaf.NotAfter.UTC().Format(time.RFC3339),
				k.failures, k.since.UTC().Format(time.RFC3339), k.lastError)
		case leaf == nil && k.managed && k.failures > 0:
			s.Warning = fmt.Sprintf("no certificate yet: issuance has failed %d times since %s: %s",
				k.failures, k.since.UTC().Format(time.RFC3339), k.lastError)
		}
		out[i] = s
	}
	return out
}

// leaf returns the certificate for name that expires last: from memory, or
// else from storage.
func (m *Manager) leaf(name string) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range m.cache.AllMatchingCertificates(name) {
		if c.Leaf != nil && (best == nil || c.Leaf.NotAfter.After(best.NotAfter)) {
			best = c.Leaf
		}
	}
	if best != nil {
		return best
	}
	data, err := m.storage.Load(context.Background(), certmagic.StorageKeys.SiteCert(m.issuerKey, name))
	if err != nil {
		return nil
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return leaf
}

// metrics are the Manager's Prometheus metrics: the expiry gauge is
// computed at scrape time from Status.
type metrics struct {
	m               *Manager
	expiry          *prometheus.Desc
	renewalFailures *prometheus.CounterVec
}

func newMetrics(m *Manager) *metrics {
	return &metrics{
		m: m,
		expiry: prometheus.NewDesc("apprun_certificate_expiry_seconds",
			"Seconds until the certificate's NotAfter (negative once expired).",
			[]string{"name", "issuer"}, nil),
		renewalFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apprun_certificate_renewal_failures_total",
			Help: "Failed certificate renewals.",
		}, []string{"name"}),
	}
}

func (x *metrics) register(r *prometheus.Registry) error {
	if err := r.Register(x); err != nil {
		return fmt.Errorf("tls: registering metrics: %w", err)
	}
	if err := r.Register(x.renewalFailures); err != nil {
		r.Unregister(x)
		return fmt.Errorf("tls: registering metrics: %w", err)
	}
	return nil
}

func (x *metrics) unregister(r *prometheus.Registry) {
	r.Unregister(x)
	r.Unregister(x.renewalFailures)
}

// Describe implements prometheus.Collector.
func (x *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- x.expiry }

// Collect implements prometheus.Collector.
func (x *metrics) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, s := range x.m.Status() {
		if s.NotAfter.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(x.expiry, prometheus.GaugeValue, s.NotAfter.Sub(now).Seconds(), s.Name, s.Issuer)
	}
}
