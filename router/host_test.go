package router

import (
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"app.example.com", "app.example.com"},
		{"App.Example.COM", "app.example.com"},
		{"app.example.com.", "app.example.com"},
		{"app.example.com:443", "app.example.com"},
		{"APP.example.com.:8080", "app.example.com"},
		{"web.localhost", "web.localhost"},
		{"[::1]:80", "::1"},
		{"[::1]", "::1"},
		{"127.0.0.1:8080", "127.0.0.1"},
		{"", ""},
		// A fuzz finding: the brackets went after the dot was trimmed, so
		// a second pass gave another answer.
		{"[].", ""},
		{"[[::1]]", ""},
	} {
		if got := normalizeHost(c.in); got != c.want {
			t.Errorf("normalizeHost(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// normalizeHost takes the client's Host header: whatever it is, the result
// is stable under a second pass, lowercase, and without a trailing dot.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"App.Example.COM", "app.example.com.", "app.example.com:443", "[::1]:80", "[::1]", ":80", "a..", "A:b:c", "[]."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		n := normalizeHost(h)
		if normalizeHost(n) != n && !strings.Contains(n, ":") {
			t.Errorf("normalizeHost(%q) = %q is not stable", h, n)
		}
		if strings.ContainsAny(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("normalizeHost(%q) = %q has upper case", h, n)
		}
		if strings.HasSuffix(n, ".") {
			t.Errorf("normalizeHost(%q) = %q keeps a trailing dot", h, n)
		}
	})
}
