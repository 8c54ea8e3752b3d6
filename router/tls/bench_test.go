package tls

import (
	ctls "crypto/tls"
	"net"
	"testing"
	"time"
)

// benchManager is a local-CA Manager with one managed and one on-demand
// certificate in memory.
func benchManager(b *testing.B) (m *Manager, managed, onDemand string) {
	b.Helper()
	domain := "bench.apprun.test"
	allow := &allowSuffix{domain: domain}
	m, err := newManager(b.Context(), Config{DataDir: b.TempDir(), Allowed: allow.allowed}, tuning{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Stop)
	managed, onDemand = "svc."+domain, "app."+domain
	if err := m.Manage(b.Context(), []string{managed}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Status(managed)[0].NotAfter.IsZero() {
		if time.Now().After(deadline) {
			b.Fatal("no certificate")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := m.GetCertificate(&ctls.ClientHelloInfo{ServerName: onDemand}); err != nil {
		b.Fatal(err)
	}
	return m, managed, onDemand
}

// BenchmarkGetCertificate is the per-handshake cost of choosing a
// certificate that is in memory: no storage access, no lock held across
// handshakes.
func BenchmarkGetCertificate(b *testing.B) {
	m, managed, onDemand := benchManager(b)
	for _, name := range []string{managed, onDemand} {
		kind := "managed"
		if name == onDemand {
			kind = "on-demand"
		}
		b.Run(kind, func(b *testing.B) {
			hello := &ctls.ClientHelloInfo{ServerName: name}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := m.GetCertificate(hello); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkHandshake compares full TLS handshakes (P-256 leaf, no
// resumption) served through the Manager with a bare crypto/tls server
// holding the same certificate, over net.Pipe; client and server run in
// the benchmark, so the ratio is what matters.
func BenchmarkHandshake(b *testing.B) {
	m, managed, _ := benchManager(b)
	cert, err := m.GetCertificate(&ctls.ClientHelloInfo{ServerName: managed})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  *ctls.Config
	}{
		{"manager", m.TLSConfig()},
		{"bare", &ctls.Config{Certificates: []ctls.Certificate{*cert}, NextProtos: []string{"h2", "http/1.1"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client := &ctls.Config{ServerName: managed, InsecureSkipVerify: true, NextProtos: []string{"h2"}}
			b.ReportAllocs()
			for b.Loop() {
				c, s := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- ctls.Server(s, tc.cfg).Handshake() }()
				if err := ctls.Client(c, client).Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				c.Close()
				s.Close()
			}
		})
	}
}
