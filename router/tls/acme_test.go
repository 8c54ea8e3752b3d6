package tls

import (
	ctls "crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// acmeSetup is a router, Pebble and a Manager wired as in production.
type acmeSetup struct {
	r     *testRouter
	p     *testACME
	m     *Manager
	allow *allowSuffix
	logs  *testLogs
	reg   *prometheus.Registry
	addr  string // the router's HTTPS address
}

func newACMESetup(t *testing.T, po pebbleOpts, ac ACMEConfig, tune tuning, domain string) *acmeSetup {
	return newACMESetupLog(t, po, ac, tune, domain, false)
}

func newACMESetupLog(t *testing.T, po pebbleOpts, ac ACMEConfig, tune tuning, domain string, debug bool) *acmeSetup {
	t.Helper()
	s := &acmeSetup{r: listenRouter(t), allow: &allowSuffix{domain: domain}, logs: newTestLogs(t), reg: prometheus.NewRegistry()}
	po.httpPort, po.tlsPort = s.r.httpPort, s.r.httpsPort
	s.p = startPebble(t, po)
	ac.Directory, ac.TrustedRoots = s.p.dir, s.p.dirRoots
	if ac.Email == "" {
		ac.Email = "ops@apprun.test"
	}
	tune.disableARI = true // Pebble's ARI window is the whole lifetime
	logger := s.logs.logger()
	if debug {
		logger = s.logs.debugLogger()
	}
	m, err := newManager(t.Context(), Config{
		DataDir:   t.TempDir(),
		ACME:      &ac,
		Allowed:   s.allow.allowed,
		HTTPPort:  s.r.httpPort,
		HTTPSPort: s.r.httpsPort,
		Log:       logger,
		Registry:  s.reg,
	}, tune)
	if err != nil {
		t.Fatal(err)
	}
	s.m = m
	s.r.serve(t, m)
	s.addr = s.r.httpsLn.Addr().String()
	return s
}

func TestACMEHTTP01(t *testing.T)    { testACMEChallenge(t, true) }
func TestACMETLSALPN01(t *testing.T) { testACMEChallenge(t, false) }

// testACMEChallenge issues real certificates from Pebble through one
// challenge type, on demand and managed, and verifies them against
// Pebble's root.
func testACMEChallenge(t *testing.T, http01 bool) {
	t.Parallel()
	domain := testDomain(t)
	s := newACMESetup(t, pebbleOpts{}, ACMEConfig{DisableHTTP01: !http01, DisableTLSALPN01: http01}, tuning{}, domain)

	onDemand := "app." + domain
	start := time.Now()
	leaf, err := handshake(s.addr, onDemand, s.p.issuing)
	if err != nil {
		t.Fatalf("on-demand handshake for %s: %v", onDemand, err)
	}
	t.Logf("first handshake with on-demand issuance: %s", time.Since(start).Round(time.Millisecond))
	if !slices.Equal(leaf.DNSNames, []string{onDemand}) {
		t.Errorf("leaf names %v, want [%s]", leaf.DNSNames, onDemand)
	}
	start = time.Now()
	if _, err := handshake(s.addr, strings.ToUpper(onDemand), s.p.issuing); err != nil {
		t.Errorf("second handshake (upper case): %v", err)
	}
	t.Logf("second handshake: %s", time.Since(start).Round(time.Millisecond))

	svc := "svc." + domain
	if err := s.m.Manage(t.Context(), []string{svc}); err != nil {
		t.Fatal(err)
	}
	waitIssued(t, s.m, 30*time.Second, svc)
	if _, err := handshake(s.addr, svc, s.p.issuing); err != nil {
		t.Fatalf("handshake for managed %s: %v", svc, err)
	}
	st := s.m.Status(svc)[0]
	if !st.Managed || st.Issuer != s.p.addr || st.LastError != "" || st.Warning != "" {
		t.Errorf("status %+v", st)
	}
	if got := s.p.orders.Load(); got != 2 {
		t.Errorf("%d orders, want 2", got)
	}
	if v := gaugeValue(t, s.reg, "apprun_certificate_expiry_seconds", svc); v <= 0 {
		t.Errorf("apprun_certificate_expiry_seconds{name=%q} = %v", svc, v)
	}
	if http01 && s.r.challenges.get() == 0 {
		t.Error("no HTTP-01 challenge was answered on the HTTP listener")
	}
	if !http01 && s.r.challenges.get() != 0 {
		t.Errorf("%d HTTP-01 challenges answered with HTTP-01 disabled", s.r.challenges.get())
	}
	if _, err := s.m.RootPEM(); err == nil || !strings.Contains(err.Error(), "ACME") {
		t.Errorf("RootPEM with ACME: %v, want an error naming ACME", err)
	}
}

// TestACMEChaos has Pebble reject 5 % of nonces and reuse half the
// authorizations, with both challenge types on: every order must succeed.
func TestACMEChaos(t *testing.T) {
	t.Parallel()
	n := 100
	if testing.Short() {
		n = 12
	}
	domain := testDomain(t)
	s := newACMESetup(t, pebbleOpts{chaos: true}, ACMEConfig{}, tuning{}, domain)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("s%03d.%s", i, domain)
	}
	start := time.Now()
	if err := s.m.Manage(t.Context(), names); err != nil {
		t.Fatal(err)
	}
	waitIssued(t, s.m, 90*time.Second, names...)
	elapsed := time.Since(start)
	for _, n := range names {
		if _, err := handshake(s.addr, n, s.p.issuing); err != nil {
			t.Errorf("handshake %s: %v", n, err)
		}
	}
	orders := s.p.orders.Load()
	t.Logf("%d names managed under chaos: %d orders, all issued in %s (%d HTTP-01 answers)", n, orders, elapsed.Round(time.Millisecond), s.r.challenges.get())
	if orders < int64(n) {
		t.Errorf("%d orders for %d names", orders, n)
	}
	// Extra orders are POSTs Pebble rejected with badNonce and acmez
	// retried at once; no issuance may have failed.
	if failed := s.logs.count("certificate issuance failed"); failed > 0 {
		t.Errorf("%d issuances failed", failed)
	}
	for _, st := range s.m.Status(names...) {
		if st.LastError != "" || st.Warning != "" {
			t.Errorf("%s: error %q warning %q", st.Name, st.LastError, st.Warning)
		}
	}
}

// TestACMERenewal checks that a managed certificate's renewal starts (its
// order reaches the CA) with at least a third of its lifetime left, and
// that every handshake on the way is served a valid certificate. The
// lifetime is 30 s so that a check interval of 250 ms and the time to
// reach the CA are small next to it, as they are next to days.
func TestACMERenewal(t *testing.T) {
	t.Parallel()
	const lifetime = 30 * time.Second
	domain := testDomain(t)
	s := newACMESetup(t, pebbleOpts{validity: lifetime}, ACMEConfig{}, tuning{checkInterval: 250 * time.Millisecond, retryTick: 250 * time.Millisecond}, domain)
	svc := "svc." + domain
	if err := s.m.Manage(t.Context(), []string{svc}); err != nil {
		t.Fatal(err)
	}
	waitIssued(t, s.m, 30*time.Second, svc)
	first, err := handshake(s.addr, svc, s.p.issuing)
	if err != nil {
		t.Fatal(err)
	}
	handshakes := 0
	for {
		leaf, err := handshake(s.addr, svc, s.p.issuing)
		if err != nil {
			t.Fatalf("handshake %d at %s before expiry: %v", handshakes, time.Until(first.NotAfter), err)
		}
		handshakes++
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			break
		}
		if time.Now().After(first.NotAfter) {
			t.Fatal("certificate expired without a renewal being served")
		}
		time.Sleep(100 * time.Millisecond)
	}
	times := s.p.orderTimesCopy()
	if len(times) < 2 {
		t.Fatalf("%d orders", len(times))
	}
	life := first.NotAfter.Sub(first.NotBefore)
	left := first.NotAfter.Sub(times[1])
	t.Logf("renewal ordered with %s of %s left (%.2f); %d handshakes, all valid", left.Round(time.Millisecond), life, left.Seconds()/life.Seconds(), handshakes)
	if left < life/3 {
		t.Errorf("renewal started with %s left, less than a third of %s", left, life)
	}
}

// TestACMEOutage stops Pebble for half a certificate's lifetime, across
// the renewal window: handshakes keep getting the still-valid
// certificate, the failing renewal shows in Status, the metric and the
// log, and once Pebble is back the certificate is renewed before it
// expires.
func TestACMEOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("about 30 s: runs without -short")
	}
	t.Parallel()
	const lifetime = 30 * time.Second
	domain := testDomain(t)
	s := newACMESetup(t, pebbleOpts{validity: lifetime}, ACMEConfig{},
		tuning{checkInterval: 250 * time.Millisecond, retryTick: 250 * time.Millisecond, warnEvery: 2 * time.Second}, domain)
	svc := "svc." + domain
	if err := s.m.Manage(t.Context(), []string{svc}); err != nil {
		t.Fatal(err)
	}
	waitIssued(t, s.m, 30*time.Second, svc)
	first, err := handshake(s.addr, svc, s.p.issuing)
	if err != nil {
		t.Fatal(err)
	}
	life := first.NotAfter.Sub(first.NotBefore)
	at := func(f float64) time.Time { return first.NotBefore.Add(time.Duration(f * float64(life))) }

	// The renewal is due at 0.65 of the lifetime; the outage covers 0.3 to 0.8.
	time.Sleep(time.Until(at(0.3)))
	s.p.stop()
	outage := time.Now()
	handshakes := 0
	for time.Now().Before(at(0.8)) {
		leaf, err := handshake(s.addr, svc, s.p.issuing)
		if err != nil {
			t.Fatalf("handshake during the outage, %s in: %v", time.Since(outage).Round(time.Millisecond), err)
		}
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Fatal("a new certificate during the outage")
		}
		handshakes++
		time.Sleep(200 * time.Millisecond)
	}
	st := s.m.Status(svc)[0]
	failures := testutil.ToFloat64(s.m.metrics.renewalFailures.WithLabelValues(svc))
	t.Logf("outage of %s: %d handshakes served the old certificate; %v renewal failures; warning: %s",
		time.Since(outage).Round(time.Millisecond), handshakes, failures, st.Warning)
	if st.Warning == "" || st.LastError == "" {
		t.Errorf("no warning or error during the outage: %+v", st)
	}
	if failures < 1 {
		t.Error("apprun_certificate_renewal_failures_total did not count the failures")
	}
	if n := s.logs.count("certificate at risk"); n == 0 || n > 5 {
		t.Errorf("warning logged %d times; want at least once and at most once per 2 s", n)
	}

	s.p.start(t)
	restart := time.Now()
	for {
		leaf, err := handshake(s.addr, svc, s.p.issuing)
		if err != nil {
			t.Fatalf("handshake after the outage: %v", err)
		}
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Logf("renewed %s after the outage, %s before the old certificate's expiry", time.Since(restart).Round(time.Millisecond), time.Until(first.NotAfter).Round(time.Millisecond))
			break
		}
		if time.Now().After(first.NotAfter) {
			t.Fatal("the certificate expired after the outage")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "the warning to clear", func() bool {
		st := s.m.Status(svc)[0]
		return st.Warning == "" && st.LastError == ""
	})
	expiry := gaugeValue(t, s.reg, "apprun_certificate_expiry_seconds", svc)
	if expiry <= 0 || expiry > lifetime.Seconds() {
		t.Errorf("apprun_certificate_expiry_seconds %v", expiry)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, metric, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == name {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{name=%q}", metric, name)
	return 0
}

// TestRandomSNINoOrders sends 10,000 handshakes with random server names
// that the platform does not know: none may cause an ACME order, and all
// must fail fast and quietly.
func TestRandomSNINoOrders(t *testing.T) {
	t.Parallel()
	n := 10000
	if testing.Short() {
		n = 2000
	}
	domain := testDomain(t)
	s := newACMESetup(t, pebbleOpts{}, ACMEConfig{}, tuning{}, domain)
	warnBefore := s.logs.total()

	names := make(chan string, 64)
	go func() {
		defer close(names)
		for i := range n {
			names <- randomSNI(i)
		}
	}()
	var mu sync.Mutex
	var durations []time.Duration
	var succeeded []string
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			d := &net.Dialer{Timeout: 5 * time.Second}
			for name := range names {
				t0 := time.Now()
				// X25519 alone: a post-quantum key share costs the client
				// more than the whole refusal costs the server.
				conn, err := ctls.DialWithDialer(d, "tcp", s.addr, &ctls.Config{ServerName: name, InsecureSkipVerify: true, CurvePreferences: []ctls.CurveID{ctls.X25519}})
				el := time.Since(t0)
				mu.Lock()
				durations = append(durations, el)
				if err == nil {
					succeeded = append(succeeded, name)
					conn.Close()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := time.Since(start)
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	p50, p99, worst := durations[len(durations)/2], durations[len(durations)*99/100], durations[len(durations)-1]
	t.Logf("%d random-SNI handshakes in %s (8 connections): p50 %s, p99 %s, max %s; %d Allowed calls; %d orders",
		n, total.Round(time.Millisecond), p50, p99, worst, s.allow.count(), s.p.orders.Load())
	if len(succeeded) > 0 {
		t.Errorf("%d handshakes succeeded, e.g. %q", len(succeeded), succeeded[0])
	}
	if got := s.p.orders.Load(); got != 0 {
		t.Errorf("%d ACME orders", got)
	}
	if p99 > 500*time.Millisecond {
		t.Errorf("p99 %s: refusals must be fast", p99)
	}
	if got := s.logs.total() - warnBefore; got > 0 {
		t.Errorf("%d log records at warn or above for refused names", got)
	}
}

// randomSNI makes server names of many shapes: plain, deep, upper case,
// trailing dot, punycode, wildcard, long, and every tenth one empty (no
// SNI).
func randomSNI(i int) string {
	label := func(n int) string {
		const chars = "abcdefghijklmnopqrstuvwxyz0123456789-"
		b := make([]byte, n)
		for j := range b {
			b[j] = chars[rand.IntN(len(chars)-1)]
		}
		return string(b)
	}
	switch i % 10 {
	case 0:
		return ""
	case 1:
		return strings.ToUpper(label(8)) + ".Apprun.Test"
	case 2:
		return label(10) + ".example.com."
	case 3:
		return "xn--" + label(6) + "." + label(3)
	case 4:
		return "*." + label(5) + ".com"
	case 5:
		return label(63) + "." + label(63) + "." + label(60) + ".net"
	case 6:
		return label(1) + "." + label(2) + "." + label(3) + "." + label(4) + ".org"
	default:
		return label(3+rand.IntN(20)) + "." + label(2+rand.IntN(8))
	}
}

// TestOnDemandBackoff has Pebble refuse an allowed name: the first
// handshake makes one order, the next ones fail at once without another
// until the back-off is over, and other names are unaffected.
func TestOnDemandBackoff(t *testing.T) {
	t.Parallel()
	domain := testDomain(t)
	blocked := "blocked." + domain
	s := newACMESetup(t, pebbleOpts{blocked: []string{blocked}}, ACMEConfig{}, tuning{}, domain)
	if _, err := handshake(s.addr, blocked, s.p.issuing); err == nil {
		t.Fatal("handshake for a name Pebble refuses succeeded")
	}
	if got := s.p.orders.Load(); got != 1 {
		t.Fatalf("%d orders after the first handshake, want 1", got)
	}
	start := time.Now()
	for i := range 50 {
		if _, err := handshake(s.addr, blocked, s.p.issuing); err == nil {
			t.Fatalf("handshake %d succeeded", i)
		}
	}
	t.Logf("50 handshakes during the back-off in %s", time.Since(start).Round(time.Millisecond))
	if got := s.p.orders.Load(); got != 1 {
		t.Errorf("%d orders after 51 handshakes, want 1", got)
	}
	st := s.m.Status(blocked)[0]
	if st.LastError == "" || st.Managed {
		t.Errorf("status %+v", st)
	}
	if _, err := handshake(s.addr, "ok."+domain, s.p.issuing); err != nil {
		t.Errorf("another name during the back-off: %v", err)
	}
}

// TestACMEEAB registers an account with external account binding (Pebble
// requires it here) and checks, with every log record kept down to Debug,
// that neither the MAC key nor a private key is ever logged.
func TestACMEEAB(t *testing.T) {
	t.Parallel()
	const kid, mac = "kid-apprun", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	domain := testDomain(t)
	s := newACMESetupLog(t, pebbleOpts{eab: map[string]string{kid: mac}}, ACMEConfig{EAB: &EAB{KeyID: kid, MACKey: mac}}, tuning{}, domain, true)
	if _, err := handshake(s.addr, "app."+domain, s.p.issuing); err != nil {
		t.Fatal(err)
	}
	if s.logs.count(`msg="certificate obtained"`) != 1 {
		t.Error("no issuance logged")
	}
	for _, secret := range []string{mac, "PRIVATE KEY"} {
		if n := s.logs.count(secret); n > 0 {
			t.Errorf("%q in %d log records", secret, n)
		}
	}
	t.Logf("%d log records checked", s.logs.total())
}
