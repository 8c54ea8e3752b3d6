package router

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzRequestHead feeds the head builder the parts of a request a client
// controls and checks that whatever it writes parses back as one request
// with the client's header intact or dropped, never split into headers of
// the client's own choosing, and with the router's forwarding headers only.
func FuzzRequestHead(f *testing.F) {
	f.Add("GET", "web.localhost", "/a?b=c", "X-App", "v", "10.0.0.1:5", int64(0))
	f.Add("POST", "web.localhost:8080", "/", "X_Forwarded_For", "6.6.6.6", "[::1]:80", int64(-1))
	f.Add("PUT", "h", "/%zz", "Connection", "X-App", "bad", int64(3))
	f.Add("GET", "h", "/", "X-App", "a\r\nX-Forwarded-For: 6.6.6.6", "1.2.3.4:1", int64(0))
	f.Fuzz(func(t *testing.T, method, host, uri, name, value, remote string, cl int64) {
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			return
		}
		req := &http.Request{
			Method: method, Host: host, URL: u, RemoteAddr: remote, ContentLength: cl,
			Header: http.Header{name: {value}, "X-Kept": {"1"}},
		}
		head, err := appendRequestHead(nil, req, cl < 0)
		if err != nil {
			return
		}
		got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("head does not parse: %v\n%q", err, head)
		}
		if got.Method != method || got.Host != host || got.RequestURI != u.RequestURI() {
			t.Fatalf("request line/host changed: %q %q %q\n%q", got.Method, got.Host, got.RequestURI, head)
		}
		for k := range got.Header {
			n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
			if (strings.HasPrefix(n, "x-forwarded-") || spoofable[n]) && k != "X-Forwarded-For" && k != "X-Forwarded-Host" && k != "X-Forwarded-Proto" {
				t.Fatalf("forwarding header %q reached the app:\n%q", k, head)
			}
		}
		if xff := got.Header["X-Forwarded-For"]; len(xff) > 1 {
			t.Fatalf("X-Forwarded-For %q:\n%q", xff, head)
		}
		// X-Kept is dropped only when the fuzzed header named it in
		// Connection.
		if !slices.Contains(got.Header["X-Kept"], "1") && !strings.Contains(strings.ToLower(value), "x-kept") {
			t.Fatalf("an end-to-end header was lost:\n%q", head)
		}
		switch {
		case cl < 0:
			if len(got.TransferEncoding) != 1 || got.ContentLength != -1 {
				t.Fatalf("want a chunked body:\n%q", head)
			}
		case cl > 0:
			if got.ContentLength != cl {
				t.Fatalf("length %d, want %d:\n%q", got.ContentLength, cl, head)
			}
		}
	})
}
