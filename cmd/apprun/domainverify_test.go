package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
)

// fakeResolver answers TXT lookups from a map; a missing name is NXDOMAIN.
type fakeResolver struct {
	records map[string][]string
	err     error
}

func (f fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	recs, ok := f.records[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return recs, nil
}

const testToken = "abcdefghijklmnopqrstuvwxyz234567"

// refusingPort is a local port nothing listens on, so the HTTP check fails
// fast and the TXT check decides.
func refusingPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestVerifyTXT(t *testing.T) {
	port := refusingPort(t)
	d := spec.Domain{Name: "127.0.0.1", VerifyToken: testToken}
	txt := "_apprun.127.0.0.1"
	for _, tc := range []struct {
		name    string
		res     fakeResolver
		ok      bool
		message []string
	}{
		{"right", fakeResolver{records: map[string][]string{txt: {testToken}}}, true, nil},
		{"right with spaces", fakeResolver{records: map[string][]string{txt: {" " + testToken + "\n"}}}, true, nil},
		{"several, one right", fakeResolver{records: map[string][]string{txt: {"v=spf1 -all", testToken, "other"}}}, true, nil},
		{"wrong", fakeResolver{records: map[string][]string{txt: {"not-the-token"}}}, false,
			[]string{"TXT _apprun.127.0.0.1: 1 record, none is the token", `"not-the-token"`}},
		{"several, none right", fakeResolver{records: map[string][]string{txt: {"a", "b", "c", "d"}}}, false,
			[]string{"4 records, none is the token", `"a", "b", "c", …`}},
		{"on the bare name only", fakeResolver{records: map[string][]string{"127.0.0.1": {testToken}}}, false,
			[]string{"TXT _apprun.127.0.0.1: no record"}},
		{"missing", fakeResolver{}, false, []string{"TXT _apprun.127.0.0.1: no record"}},
		{"empty answer", fakeResolver{records: map[string][]string{txt: {}}}, false, []string{"TXT _apprun.127.0.0.1: no record"}},
		{"server failure", fakeResolver{err: &net.DNSError{Err: "server misbehaving", Name: txt}}, false,
			[]string{"TXT _apprun.127.0.0.1: server misbehaving"}},
		{"timeout", fakeResolver{err: &net.DNSError{Err: "i/o timeout", Name: txt, IsTimeout: true}}, false,
			[]string{"TXT _apprun.127.0.0.1: timed out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newDomainVerifier(domainVerifyOptions{Resolver: tc.res, AllowPrivate: true, httpPort: port})
			err := v.Verify(t.Context(), d)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Verify succeeded, want a failure")
			}
			// Both checks are reported, each with what it found.
			for _, want := range append(tc.message, "http://127.0.0.1:"+port+"/.well-known/apprun-verify/"+testToken+": connection refused") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestVerifyHTTP(t *testing.T) {
	var status atomic.Int32
	var body atomic.Value
	var gotPath, gotHost atomic.Value
	status.Store(200)
	body.Store(testToken)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.Path)
		gotHost.Store(r.Host)
		if s := int(status.Load()); s == http.StatusFound {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", s)
			return
		} else if s != 200 {
			w.WriteHeader(s)
		}
		io.WriteString(w, body.Load().(string))
	}))
	defer ts.Close()
	u, _ := url.Parse(ts.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	d := spec.Domain{Name: host, VerifyToken: testToken}
	verify := func(allowPrivate bool) error {
		v := newDomainVerifier(domainVerifyOptions{Resolver: fakeResolver{}, AllowPrivate: allowPrivate, httpPort: port})
		return v.Verify(t.Context(), d)
	}

	if err := verify(true); err != nil {
		t.Fatalf("Verify = %v, want success", err)
	}
	if p := gotPath.Load(); p != "/.well-known/apprun-verify/"+testToken {
		t.Errorf("path = %v", p)
	}
	if h := gotHost.Load(); h != u.Host {
		t.Errorf("Host = %v, want %s", h, u.Host)
	}
	body.Store(testToken + "\n")
	if err := verify(true); err != nil {
		t.Errorf("a token with a newline: %v", err)
	}

	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"wrong body", 200, "nope", "answered 200, but the body is not the token"},
		{"token past 1 KiB", 200, strings.Repeat(" ", 1024) + testToken, "the body is not the token"},
		{"not found", 404, testToken, "answered 404 Not Found"},
		{"redirect", http.StatusFound, "", "answered 302 Found to http://169.254.169.254/latest/meta-data/ (redirects are not followed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status.Store(int32(tc.status))
			body.Store(tc.body)
			err := verify(true)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "TXT _apprun."+host+": no record") {
				t.Errorf("Verify = %v, want it to mention %q and the TXT check", err, tc.want)
			}
		})
	}

	// Without allowPrivate the same server is out of reach: the dial is
	// refused for its loopback address, and nothing is fetched.
	status.Store(200)
	body.Store(testToken)
	gotPath.Store("")
	err := verify(false)
	if err == nil || !strings.Contains(err.Error(), "refused to connect to 127.0.0.1 (loopback address)") {
		t.Errorf("Verify without allowPrivate = %v, want a refused loopback dial", err)
	}
	if p := gotPath.Load(); p != "" {
		t.Errorf("the server was reached: %v", p)
	}
}

func TestVerifyRefusesBlockedAddresses(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":        "loopback",
		"127.8.9.10":       "loopback",
		"::1":              "loopback",
		"::ffff:127.0.0.1": "loopback",
		"169.254.169.254":  "link-local or cloud metadata",
		"fd00:ec2::254":    "link-local or cloud metadata",
		"fe80::1":          "link-local",
		"0.0.0.0":          "unspecified",
		"0.1.2.3":          "unspecified",
		"::":               "unspecified",
		"224.0.0.1":        "link-local",
		"239.1.1.1":        "multicast",
		"10.0.0.1":         "",
		"192.168.1.10":     "",
		"93.184.216.34":    "",
		"2606:4700::1111":  "",
	} {
		if got := blockedReason(netip.MustParseAddr(addr), false); got != want {
			t.Errorf("blockedReason(%s) = %q, want %q", addr, got, want)
		}
		private := blockedReason(netip.MustParseAddr(addr), true)
		if metadata := want == "link-local or cloud metadata"; (private != "") != metadata {
			t.Errorf("blockedReason(%s, allowPrivate) = %q", addr, private)
		}
	}
	// The check is the dialer's: a name that resolves to loopback is
	// refused after resolution, whatever the name looks like.
	ctl := dialControl(false)
	for _, addr := range []string{"127.0.0.1:80", "[::1]:80", "169.254.169.254:80"} {
		var be *blockedAddrError
		if err := ctl("tcp", addr, nil); !errors.As(err, &be) {
			t.Errorf("dialControl(%s) = %v, want a refusal", addr, err)
		}
	}
	if err := ctl("tcp", "93.184.216.34:80", nil); err != nil {
		t.Errorf("dialControl(public) = %v", err)
	}
	v := newDomainVerifier(domainVerifyOptions{Resolver: fakeResolver{}})
	err := v.Verify(t.Context(), spec.Domain{Name: "localhost", VerifyToken: testToken})
	if err == nil || !strings.Contains(err.Error(), "http://localhost/.well-known/apprun-verify/"+testToken+": ") {
		t.Fatalf("Verify(localhost) = %v", err)
	}
	if !strings.Contains(err.Error(), "loopback address") && !strings.Contains(err.Error(), "no such host") {
		t.Errorf("Verify(localhost) = %v, want a refused loopback dial", err)
	}
}

func TestTokenHandler(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := spec.NewService("web")
	svc.Domains = []string{"www.example.com", "done.example.com"}
	if _, err := st.CreateService(ctx, svc, nil); err != nil {
		t.Fatal(err)
	}
	pending, err := st.GetDomain(ctx, "www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	done, err := st.VerifyDomain(ctx, "done.example.com")
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "router") })
	h := domainTokenHandler(st, next)
	path := "/.well-known/apprun-verify/"
	for _, tc := range []struct {
		name, method, host, path string
		status                   int
		body                     string
	}{
		{"pending domain", "GET", "www.example.com", path + pending.VerifyToken, 200, pending.VerifyToken},
		{"host with port", "GET", "www.example.com:8080", path + pending.VerifyToken, 200, pending.VerifyToken},
		{"host uppercase, trailing dot", "GET", "WWW.Example.COM.", path + pending.VerifyToken, 200, pending.VerifyToken},
		{"HEAD", "HEAD", "www.example.com", path + pending.VerifyToken, 200, ""},
		{"wrong token", "GET", "www.example.com", path + strings.Repeat("a", len(pending.VerifyToken)), 404, ""},
		{"another domain's token", "GET", "done.example.com", path + pending.VerifyToken, 404, ""},
		{"verified domain", "GET", "done.example.com", path + done.VerifyToken, 404, ""},
		{"unknown host", "GET", "other.example.com", path + pending.VerifyToken, 404, ""},
		{"IP host", "GET", "127.0.0.1", path + pending.VerifyToken, 404, ""},
		{"no token", "GET", "www.example.com", path, 404, ""},
		{"token with a suffix", "GET", "www.example.com", path + pending.VerifyToken + "/x", 404, ""},
		{"POST", "POST", "www.example.com", path + pending.VerifyToken, 405, ""},
		{"other path", "GET", "www.example.com", "/", 200, "router"},
		{"near miss", "GET", "www.example.com", "/.well-known/apprun-verify", 200, "router"},
		{"acme", "GET", "www.example.com", "/.well-known/acme-challenge/x", 200, "router"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("body %q, want %q", rec.Body, tc.body)
			}
			if tc.status == 404 && strings.Contains(rec.Body.String(), pending.VerifyToken) {
				t.Errorf("a 404 shows the token")
			}
		})
	}

	// End to end: the verifier, through the token handler, verifies a
	// pending domain (allowPrivate: the "router" is on loopback).
	ts := httptest.NewServer(h)
	defer ts.Close()
	u, _ := url.Parse(ts.URL)
	_, port, _ := net.SplitHostPort(u.Host)
	v := newDomainVerifier(domainVerifyOptions{Resolver: fakeResolver{}, AllowPrivate: true, httpPort: port})
	pinDial(v, u.Host)
	if err := v.Verify(ctx, pending); err != nil {
		t.Fatalf("Verify through the token handler: %v", err)
	}
}

// pinDial makes every HTTP check of v dial addr, as if each domain resolved
// to it, so tests need no DNS; the check on the address dialled still runs.
func pinDial(v *domainVerifier, addr string) {
	v.client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := &net.Dialer{Timeout: verifyDialTimeout, Control: dialControl(true)}
		return d.DialContext(ctx, network, addr)
	}
}
