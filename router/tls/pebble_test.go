package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	ctls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// testACME is Pebble in-process: a real ACME server with real HTTP-01 and
// TLS-ALPN-01 validation against the test's router listeners. Its
// directory keeps its address across stop/start, so an outage can be
// simulated by closing the server for real.
type testACME struct {
	dir      string         // directory URL
	dirRoots *x509.CertPool // trusts the directory's HTTPS certificate
	issuing  *x509.CertPool // Pebble's issuing root, from its management API

	addr    string
	handler http.Handler
	srvTLS  *ctls.Config

	mu  sync.Mutex
	srv *http.Server

	orders     atomic.Int64
	orderTimes struct {
		sync.Mutex
		at []time.Time
	}
}

type pebbleOpts struct {
	httpPort, tlsPort int
	validity          time.Duration     // certificate lifetime; 0 is Pebble's default
	chaos             bool              // nonce rejection (5 %) and authz reuse (50 %)
	blocked           []string          // names Pebble refuses to order
	eab               map[string]string // key ID → MAC key; accounts need one
}

// pebbleEnvMu serialises Pebble's constructors, which read their chaos
// settings from the (process-global) environment.
var pebbleEnvMu sync.Mutex

func startPebble(t *testing.T, o pebbleOpts) *testACME {
	t.Helper()
	quiet := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	for _, b := range o.blocked {
		if err := store.AddBlockedDomain(b); err != nil {
			t.Fatal(err)
		}
	}
	for kid, key := range o.eab {
		if err := store.AddExternalAccountKeyByID(kid, key); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"PEBBLE_VA_NOSLEEP":      "1", // else a random 0–5 s sleep per validation
		"PEBBLE_VA_ALWAYS_VALID": "0", // validate for real
		"PEBBLE_WFE_NONCEREJECT": "0",
		"PEBBLE_AUTHZREUSE":      "0",
	}
	if o.chaos {
		delete(env, "PEBBLE_WFE_NONCEREJECT") // Pebble's defaults: 5 % and 50 %
		delete(env, "PEBBLE_AUTHZREUSE")
	}
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(o.validity / time.Second)}}

	pebbleEnvMu.Lock()
	for _, k := range []string{"PEBBLE_VA_NOSLEEP", "PEBBLE_VA_ALWAYS_VALID", "PEBBLE_WFE_NONCEREJECT", "PEBBLE_AUTHZREUSE"} {
		if v, ok := env[k]; ok {
			os.Setenv(k, v)
		} else {
			os.Unsetenv(k)
		}
	}
	authority := ca.New(quiet, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(quiet, o.httpPort, o.tlsPort, false, testDNS(t), store)
	front := wfe.New(quiet, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, len(o.eab) > 0, 0, 0)
	pebbleEnvMu.Unlock()

	p := &testACME{}
	cert, pool := selfSignedLoopback(t)
	p.dirRoots = pool
	p.srvTLS = &ctls.Config{Certificates: []ctls.Certificate{cert}}
	inner := front.Handler()
	p.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			p.orders.Add(1)
			p.orderTimes.Lock()
			p.orderTimes.at = append(p.orderTimes.at, time.Now())
			p.orderTimes.Unlock()
		}
		inner.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.dir = "https://" + p.addr + wfe.DirectoryPath
	p.serve(ln)

	// The issuing root is random per instance: fetch it from the
	// management API to verify what Pebble issues.
	mgmtLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mgmt := &http.Server{Handler: front.ManagementHandler(), TLSConfig: p.srvTLS.Clone(), ErrorLog: quiet}
	go func() { _ = mgmt.ServeTLS(mgmtLn, "", "") }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &ctls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + mgmtLn.Addr().String() + wfe.RootCertPath + "0")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	_ = mgmt.Close()
	client.CloseIdleConnections()
	p.issuing = pemPool(t, rootPEM)
	t.Cleanup(p.stop)
	return p
}

func (p *testACME) serve(ln net.Listener) {
	// Each server gets its own copy: http.Server adds h2 to NextProtos.
	srv := &http.Server{Handler: p.handler, TLSConfig: p.srvTLS.Clone(), ErrorLog: log.New(io.Discard, "", 0)}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
}

// stop closes the ACME server: its listener and every connection.
func (p *testACME) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
}

// start serves again on the same address, with the same state.
func (p *testACME) start(t *testing.T) {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("restarting pebble on %s: %v", p.addr, err)
		return
	}
	p.serve(ln)
}

func (p *testACME) orderTimesCopy() []time.Time {
	p.orderTimes.Lock()
	defer p.orderTimes.Unlock()
	return append([]time.Time(nil), p.orderTimes.at...)
}

// selfSignedLoopback makes a certificate for 127.0.0.1 (Pebble's own test
// certificate expires in 2027) and a pool that trusts it.
func selfSignedLoopback(t *testing.T) (ctls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebble test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return ctls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

var testDNSAddr = sync.OnceValues(func() (string, error) {
	// Pebble's VA resolves names with its own DNS client over TCP: answer
	// 127.0.0.1 for every A query and nothing for AAAA (or CAA).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	return ln.Addr().String(), nil
})

func testDNS(t *testing.T) string {
	addr, err := testDNSAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
