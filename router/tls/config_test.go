package tls

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"local CA", Config{DataDir: "/d"}, ""},
		{"ACME", Config{DataDir: "/d", ACME: &ACMEConfig{Directory: "https://acme.example/dir"}}, ""},
		{"no data dir", Config{}, "DataDir"},
		{"bad port", Config{DataDir: "/d", HTTPSPort: 70000}, "port"},
		{"http directory", Config{DataDir: "/d", ACME: &ACMEConfig{Directory: "http://acme.example/dir"}}, "https"},
		{"no directory", Config{DataDir: "/d", ACME: &ACMEConfig{}}, "https"},
		{"no challenge", Config{DataDir: "/d", ACME: &ACMEConfig{Directory: "https://a/d", DisableHTTP01: true, DisableTLSALPN01: true}}, "both"},
		{"half EAB", Config{DataDir: "/d", ACME: &ACMEConfig{Directory: "https://a/d", EAB: &EAB{KeyID: "k"}}}, "EAB"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestEABRedacted: the MAC key never reaches a log or an error message.
func TestEABRedacted(t *testing.T) {
	const secret = "c2VjcmV0LW1hYy1rZXktdmFsdWU"
	e := &EAB{KeyID: "kid-1", MACKey: secret}
	cfg := Config{DataDir: "/d", ACME: &ACMEConfig{Directory: "https://a/d", EAB: e}}
	var buf bytes.Buffer
	for _, s := range []string{
		fmt.Sprint(*e), fmt.Sprintf("%v %+v %#v %s", e, e, e, e),
		fmt.Sprintf("%v %+v", cfg.ACME, *cfg.ACME),
	} {
		buf.WriteString(s)
	}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "eab", e, "eab2", *e)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "eab", *e)
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("MAC key printed: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "kid-1") {
		t.Errorf("key ID missing: %s", buf.String())
	}
}

func TestRetryDelay(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		failures int
		lifetime time.Duration
		want     time.Duration
	}{
		{1, 0, time.Minute},
		{2, 0, 2 * time.Minute},
		{7, 0, time.Hour},
		{100, 0, time.Hour},
		{0, 0, time.Minute},
		{1, 90 * day, time.Minute},
		{100, 90 * day, time.Hour},
		{100, 7 * day, time.Hour},
		{1, 30 * time.Second, time.Second},
		{5, 30 * time.Minute, time.Minute},
		{1, time.Second, time.Second},
	} {
		if got := retryDelay(tc.failures, tc.lifetime); got != tc.want {
			t.Errorf("retryDelay(%d, %s) = %s, want %s", tc.failures, tc.lifetime, got, tc.want)
		}
	}
}

func TestNormalizeSNI(t *testing.T) {
	for in, want := range map[string]string{
		"app.example.com":   "app.example.com",
		"App.Example.COM":   "app.example.com",
		"app.example.com.":  "app.example.com",
		" app.example.com ": "app.example.com",
		"":                  "",
		".":                 "",
	} {
		if got := normalizeSNI(in); got != want {
			t.Errorf("normalizeSNI(%q) = %q, want %q", in, got, want)
		}
	}
	var sink string
	if n := testing.AllocsPerRun(100, func() { sink = normalizeSNI("app.example.com") }); n != 0 || sink == "" {
		t.Errorf("normalizeSNI allocates %v times for a lowercase name", n)
	}
}

// TestZapToSlog: certmagic's Info goes to Debug, Warn and Error stay, and
// fields (also from With) become attributes.
func TestZapToSlog(t *testing.T) {
	var buf bytes.Buffer
	l := zapToSlog(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l.Info("acquiring lock", zap.String("identifier", "a.example"))
	l.Named("renew").With(zap.String("identifier", "b.example")).Warn("renewal failed", zap.Error(errors.New("boom")))
	l.Error("broken", zap.Int("n", 3))
	out := buf.String()
	if strings.Contains(out, "acquiring lock") {
		t.Errorf("Info not demoted: %s", out)
	}
	for _, want := range []string{"level=WARN", "renewal failed", "identifier=b.example", "error=boom", "logger=certmagic.renew", "level=ERROR", "n=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %s", want, out)
		}
	}
}
