package tls

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

var redirectCases = []struct {
	host, target string
	port         int
	want         string // "" for 400
}{
	{"app.example.com", "/", 443, "https://app.example.com/"},
	{"app.example.com", "/", 0, "https://app.example.com/"},
	{"App.Example.COM:80", "/a/b?x=1&y=2", 443, "https://app.example.com/a/b?x=1&y=2"},
	{"app.example.com.", "/", 443, "https://app.example.com/"},
	{"app.example.com:", "/", 443, "https://app.example.com/"},
	{"app.example.com", "/x", 8443, "https://app.example.com:8443/x"},
	{"localhost", "/", 443, "https://localhost/"},
	{"bücher.example", "/", 443, "https://xn--bcher-kva.example/"},
	{"XN--BCHER-KVA.example", "/", 443, "https://xn--bcher-kva.example/"},
	// Paths that a browser could read as another host.
	{"app.example.com", "//evil.com", 443, "https://app.example.com/evil.com"},
	{"app.example.com", "///evil.com/x", 443, "https://app.example.com/evil.com/x"},
	{"app.example.com", `/\evil.com`, 443, "https://app.example.com/%5Cevil.com"},
	{"app.example.com", `/\\evil.com`, 443, "https://app.example.com/%5C%5Cevil.com"},
	{"app.example.com", "/%2f%2fevil.com", 443, "https://app.example.com/%2f%2fevil.com"},
	{"app.example.com", "/%2F/evil.com", 443, "https://app.example.com/%2F/evil.com"},
	{"app.example.com", "/%5Cevil.com", 443, "https://app.example.com/%5Cevil.com"},
	{"app.example.com", "/%5C%5Cevil.com", 443, "https://app.example.com/%5C%5Cevil.com"},
	{"app.example.com", "/a%0d%0aSet-Cookie:%20x=1", 443, "https://app.example.com/a%0d%0aSet-Cookie:%20x=1"},
	{"app.example.com", "/a?next=//evil.com#frag", 443, "https://app.example.com/a?next=//evil.com%23frag"},
	{"app.example.com", "/a?q=\\x", 443, "https://app.example.com/a?q=%5Cx"},
	{"app.example.com", "/ü", 443, "https://app.example.com/%C3%BC"},
	// Hosts that are not host names.
	{"", "/", 443, ""},
	{"user@evil.com", "/", 443, ""},
	{"evil.com@app.example.com", "/", 443, ""},
	{"user:pass@app.example.com", "/", 443, ""},
	{"127.0.0.1", "/", 443, ""},
	{"127.0.0.1:80", "/", 443, ""},
	{"[::1]:80", "/", 443, ""},
	{"[::1]", "/", 443, ""},
	{"app.example.com:abc", "/", 443, ""},
	{"app.example.com:80:80", "/", 443, ""},
	{"a..b", "/", 443, ""},
	{".app.example.com", "/", 443, ""},
	{"-a.example.com", "/", 443, ""},
	{"a-.example.com", "/", 443, ""},
	{"a_b.example.com", "/", 443, ""},
	{"app.example.com/evil.com", "/", 443, ""},
	{`app.example.com\evil.com`, "/", 443, ""},
	{"app.example.com\r\nX-Evil: 1", "/", 443, ""},
	{"app.example.com evil.com", "/", 443, ""},
	{"app.example.com%2fevil.com", "/", 443, ""},
	{strings.Repeat("a", 64) + ".com", "/", 443, ""},
	{strings.Repeat("abcdefghi.", 26) + "com", "/", 443, ""},
	{"xn--.example", "/", 443, ""},
}

func TestRedirectLocation(t *testing.T) {
	for _, tc := range redirectCases {
		u, err := url.ParseRequestURI(tc.target)
		if err != nil {
			t.Fatalf("%q: %v", tc.target, err)
		}
		got, ok := redirectLocation(tc.host, u, tc.port)
		if tc.want == "" {
			if ok {
				t.Errorf("host %q: got %q, want 400", tc.host, got)
			}
			continue
		}
		if !ok || got != tc.want {
			t.Errorf("host %q target %q: got %q (%v), want %q", tc.host, tc.target, got, ok, tc.want)
		}
	}
}

// TestHTTPHandlerWire sends raw requests through Go's HTTP server to the
// port-80 handler: what the server accepts must redirect to the same host,
// and a header can never be split.
func TestHTTPHandlerWire(t *testing.T) {
	t.Parallel()
	m, err := newManager(t.Context(), Config{DataDir: t.TempDir(), Log: newTestLogs(t).logger()}, tuning{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m.HTTPHandler(8443, nil)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	for _, tc := range []struct {
		name, req    string
		status       int
		location     string
		noSetCookies bool
	}{
		{"double slash", "GET //evil.com HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 308, "https://app.example.com:8443/evil.com", false},
		{"backslash", "GET /\\evil.com HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 308, "https://app.example.com:8443/%5Cevil.com", false},
		{"encoded slashes", "GET /%2f%2fevil.com HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 308, "https://app.example.com:8443/%2f%2fevil.com", false},
		{"encoded backslash", "GET /%5Cevil.com HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 308, "https://app.example.com:8443/%5Cevil.com", false},
		{"encoded CRLF", "GET /a%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 308, "https://app.example.com:8443/a%0d%0aSet-Cookie:%20x=1", true},
		{"query kept", "POST /api?x=1 HTTP/1.1\r\nHost: App.Example.com:80\r\nContent-Length: 0\r\n\r\n", 308, "https://app.example.com:8443/api?x=1", false},
		// Absolute form: Go's server takes the host from the target, as
		// RFC 9112 requires, and so does the router's routing; the
		// redirect names that host and only the target's path.
		{"absolute form", "GET http://app.example.com//evil.com/x HTTP/1.1\r\nHost: other.example.com\r\n\r\n", 308, "https://app.example.com:8443/evil.com/x", false},
		{"absolute form with userinfo", "GET http://user@evil.com/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 400, "", false},
		{"host with userinfo", "GET / HTTP/1.1\r\nHost: user@evil.com\r\n\r\n", 400, "", false},
		{"IP host", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "", false},
		{"no host", "GET / HTTP/1.0\r\n\r\n", 400, "", false},
		{"two hosts", "GET / HTTP/1.1\r\nHost: app.example.com\r\nHost: evil.com\r\n\r\n", 400, "", false},
		{"CR in target", "GET /a\rb HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 400, "", false},
		{"bare LF ends the Host line", "GET / HTTP/1.1\r\nHost: app.example.com\nSet-Cookie: x=1\r\n\r\n", 308, "https://app.example.com:8443/", true},
		{"CR in host", "GET / HTTP/1.1\r\nHost: app.example.com\rX: 1\r\n\r\n", 400, "", false},
		{"challenge path without ACME", "GET /.well-known/acme-challenge/abc HTTP/1.1\r\nHost: app.example.com\r\n\r\n", 308, "https://app.example.com:8443/.well-known/acme-challenge/abc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tc.req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
			if tc.noSetCookies && len(resp.Header.Values("Set-Cookie")) > 0 {
				t.Error("header injected")
			}
		})
	}
}

// FuzzRedirectLocation: whatever the Host and target, a redirect goes to
// https on the normalised Host (a valid host name) and the expected port,
// its path starts with exactly one "/", and it holds no byte that could
// split a header or read as another authority.
func FuzzRedirectLocation(f *testing.F) {
	for _, tc := range redirectCases {
		f.Add(tc.host, tc.target, uint16(tc.port))
	}
	f.Add("a.b", "/../..//x", uint16(80))
	f.Add("A.B:443", "/%zz", uint16(443))
	f.Fuzz(func(t *testing.T, host, target string, port uint16) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		loc, ok := redirectLocation(host, u, int(port))
		want, valid := normalizeHost(host, true)
		if ok != valid {
			t.Fatalf("host %q: redirect %v but normalizeHost %v", host, ok, valid)
		}
		if !ok {
			return
		}
		if !validHostname(want) {
			t.Fatalf("host %q normalised to invalid %q", host, want)
		}
		if again, ok := normalizeHost(want, false); !ok || again != want {
			t.Fatalf("normalizeHost not idempotent: %q -> %q -> %q", host, want, again)
		}
		for i := 0; i < len(loc); i++ {
			if c := loc[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
				t.Fatalf("location %q has byte %q", loc, c)
			}
		}
		authority := want
		if port != 0 && port != 443 {
			authority += ":" + strconv.Itoa(int(port))
		}
		prefix := "https://" + authority + "/"
		if !strings.HasPrefix(loc, prefix) {
			t.Fatalf("location %q does not start with %q", loc, prefix)
		}
		if strings.HasPrefix(loc[len(prefix):], "/") {
			t.Fatalf("location %q: path starts with //", loc)
		}
		p, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("location %q: %v", loc, err)
		}
		if p.Scheme != "https" || p.User != nil || p.Host != authority || p.Opaque != "" {
			t.Fatalf("location %q parses to scheme %q user %v host %q", loc, p.Scheme, p.User, p.Host)
		}
	})
}
