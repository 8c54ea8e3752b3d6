package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// apiServerWith is apiServer with a web.Config of the test's choosing.
func apiServerWith(t *testing.T, cfg web.Config) (url, token string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plain, _, err := st.CreateToken(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, plain
}

// dnsZone is a TXT resolver the test writes records into.
type dnsZone struct {
	mu   sync.Mutex
	recs map[string][]string
}

func (z *dnsZone) set(name string, values ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.recs[name] = values
}

func (z *dnsZone) LookupTXT(_ context.Context, name string) ([]string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if v, ok := z.recs[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// testCerts holds a certificate for shop.example.com only.
type testCerts struct{}

func (testCerts) Status(names ...string) []web.CertStatus {
	var out []web.CertStatus
	for _, n := range names {
		if n == "shop.example.com" {
			out = append(out, web.CertStatus{Name: n, Issuer: "Let's Encrypt R11", NotAfter: time.Now().Add(20 * 24 * time.Hour), DaysLeft: 20.4, Warning: "renewal failing"})
		}
	}
	return out
}

func TestCLICustomDomains(t *testing.T) {
	zone := &dnsZone{recs: map[string][]string{}}
	// The real verifier, with DNS faked and the HTTP check refused (every
	// name dials port 1 on loopback, allowed, so the failure is "connection
	// refused").
	verifier := newDomainVerifier(domainVerifyOptions{Resolver: zone, AllowPrivate: true, httpPort: "1"})
	pinDial(verifier, "127.0.0.1:1")
	url, token := apiServerWith(t, web.Config{DomainVerifier: verifier, Certificates: testCerts{}, AppsDomain: "apps.example.com"})
	env := map[string]string{"APPRUN_SERVER": url, "APPRUN_TOKEN": token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errs := cli(t, env, "", args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
		}
		return out + errs
	}
	run(0, "services", "create", "shop")
	run(0, "services", "create", "blog")
	if out := run(0, "domains", "list"); !strings.Contains(out, "No custom domains yet") {
		t.Errorf("empty list:\n%s", out)
	}

	out := run(0, "domains", "add", "shop", "shop.example.com")
	tok := regexp.MustCompile(`TXT  "([a-z2-7]{32})"`).FindStringSubmatch(out)
	if tok == nil {
		t.Fatalf("add printed no TXT record:\n%s", out)
	}
	for _, want := range []string{
		"Added shop.example.com to shop (pending until verified)",
		"_apprun.shop.example.com  TXT  \"" + tok[1] + "\"",
		"http://shop.example.com/.well-known/apprun-verify/" + tok[1],
		"apprun domains verify shop shop.example.com",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("add output does not mention %q:\n%s", want, out)
		}
	}
	out = run(0, "domains", "add", "blog", "blog.example.org", "--json")
	var added struct {
		Name, Status, VerifyToken string
		Instructions              struct{ TXTName string }
	}
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Name != "blog.example.org" || added.Status != "pending" ||
		added.Instructions.TXTName != "_apprun.blog.example.org" {
		t.Errorf("add --json = %+v, %v:\n%s", added, err, out)
	}

	// Refusals, with exit codes that say why.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"domains", "add", "shop", "Shop.Example.com"}, exitInvalid, "name"},
		{[]string{"domains", "add", "shop", "x.apps.example.com"}, exitInvalid, "apps domain"},
		{[]string{"domains", "add", "blog", "shop.example.com"}, exitConflict, `attached to service "shop"`},
		{[]string{"domains", "add", "nope", "a.example.com"}, exitNotFound, `"nope"`},
		{[]string{"domains", "add", "shop"}, exitUsage, "SERVICE NAME"},
		{[]string{"domains", "remove", "blog", "shop.example.com"}, exitNotFound, `service "blog" has no domain "shop.example.com"`},
		{[]string{"domains", "verify", "shop", "other.example.com"}, exitNotFound, "other.example.com"},
		{[]string{"domains", "list", "a", "b"}, exitError, "accepts at most 1 arg"},
	} {
		if out := run(tc.code, tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("%v: output does not mention %q:\n%s", tc.args, tc.want, out)
		}
	}

	// Verification fails until the record exists, saying what it found.
	zone.set("_apprun.shop.example.com", "google-site-verification=abc")
	out = run(exitInvalid, "domains", "verify", "shop", "shop.example.com")
	for _, want := range []string{
		"could not verify shop.example.com",
		`TXT _apprun.shop.example.com: 1 record, none is the token (found "google-site-verification=abc")`,
		"http://shop.example.com:1/.well-known/apprun-verify/" + tok[1] + ": connection refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("failed verify does not mention %q:\n%s", want, out)
		}
	}
	zone.set("_apprun.shop.example.com", "google-site-verification=abc", tok[1])
	if out := run(0, "domains", "verify", "shop", "shop.example.com"); !strings.Contains(out, "Verified shop.example.com for shop") {
		t.Errorf("verify:\n%s", out)
	}
	out = run(0, "domains", "verify", "shop", "shop.example.com", "--json")
	if !strings.Contains(out, `"status": "verified"`) || !strings.Contains(out, `"verifiedAt"`) {
		t.Errorf("verify --json:\n%s", out)
	}

	// The table: status, and the certificate where there is one.
	out = run(0, "domains", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("list:\n%s", out)
	}
	for i, want := range [][]string{
		{"NAME", "SERVICE", "STATUS", "ISSUER", "EXPIRES", "WARNING"},
		{"blog.example.org", "blog", "pending", "-", "-", "-"},
		{"shop.example.com", "shop", "verified", "Let's", "Encrypt", "R11", "20d", "renewal", "failing"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d = %q, want %q", i, got, want)
		}
	}
	if out := run(0, "domains", "list", "blog"); strings.Contains(out, "shop.example.com") || !strings.Contains(out, "blog.example.org") {
		t.Errorf("list blog:\n%s", out)
	}
	out = run(0, "domains", "list", "shop", "--json")
	var listed struct {
		Domains []struct {
			Name     string
			DaysLeft float64
			Issuer   string
		}
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Domains) != 1 || listed.Domains[0].Issuer != "Let's Encrypt R11" || listed.Domains[0].DaysLeft != 20.4 {
		t.Errorf("list --json = %+v, %v:\n%s", listed, err, out)
	}

	// Removing.
	if out := run(0, "domains", "remove", "blog", "blog.example.org"); !strings.Contains(out, "Removed blog.example.org from blog") {
		t.Errorf("remove:\n%s", out)
	}
	if out := run(0, "domains", "rm", "shop", "shop.example.com", "--json"); !strings.Contains(out, `"removed": "shop.example.com"`) {
		t.Errorf("remove --json:\n%s", out)
	}
	if out := run(0, "domains", "list", "shop"); !strings.Contains(out, "shop has no custom domains") {
		t.Errorf("list after remove:\n%s", out)
	}
}
