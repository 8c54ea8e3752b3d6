package buildpacks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// site makes a site to serve, and a secret beside it that must never be
// served.
func site(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "site")
	for name, content := range map[string]string{
		"index.html":           "<h1>home</h1>",
		"style.css":            "body{}",
		"about.html":           "<h1>about</h1>",
		"docs/index.html":      "<h1>docs</h1>",
		"empty/keep.txt":       "k",
		".git/config":          "[core]",
		".env":                 "SECRET=1",
		".well-known/security": "contact: x",
		"a b.txt":              "space",
		"apprun.yaml":          "version: 1.0",
		"Procfile":             "web: x",
		"docs/Procfile":        "not the platform's",
	} {
		if err := writeFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte("TOP SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(root, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("style.css", filepath.Join(root, "inside.css")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestStaticHandler(t *testing.T) {
	t.Parallel()
	root := site(t)
	h, err := newStaticHandler(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, tc := range []struct {
		method, target string
		code           int
		body, location string
		ctype          string
	}{
		{"GET", "/", 200, "<h1>home</h1>", "", "text/html; charset=utf-8"},
		{"GET", "/index.html", 200, "<h1>home</h1>", "", ""},
		{"GET", "/style.css", 200, "body{}", "", "text/css; charset=utf-8"},
		{"GET", "/about", 200, "<h1>about</h1>", "", ""},
		{"GET", "/docs", 301, "", "/docs/", ""},
		{"GET", "/docs?x=1", 301, "", "/docs/?x=1", ""},
		{"GET", "/docs/", 200, "<h1>docs</h1>", "", ""},
		{"GET", "//docs", 301, "", "/docs/", ""},
		{"GET", "/a%20b.txt", 200, "space", "", ""},
		{"GET", "/inside.css", 200, "body{}", "", ""},
		{"HEAD", "/style.css", 200, "", "", ""},
		{"GET", "/.well-known/security", 200, "contact: x", "", ""},
		// No directory listing.
		{"GET", "/empty/", 404, "404 page not found\n", "", ""},
		{"GET", "/missing.js", 404, "404 page not found\n", "", ""},
		// No dotfiles.
		{"GET", "/.git/config", 404, "404 page not found\n", "", ""},
		{"GET", "/.env", 404, "404 page not found\n", "", ""},
		// Nor apprun's own files at the root (only there).
		{"GET", "/apprun.yaml", 404, "404 page not found\n", "", ""},
		{"GET", "/Procfile", 404, "404 page not found\n", "", ""},
		{"GET", "/docs/Procfile", 200, "not the platform's", "", ""},
		// Nothing outside the root: .., its encodings, encoded slashes,
		// symlinks that leave.
		{"GET", "/../secret.txt", 400, "", "", ""},
		{"GET", "/docs/../../secret.txt", 400, "", "", ""},
		{"GET", "/%2e%2e/secret.txt", 400, "", "", ""},
		{"GET", "/%2E%2E%2Fsecret.txt", 400, "", "", ""},
		{"GET", "/docs%2f..%2f..%2fsecret.txt", 400, "", "", ""},
		{"GET", "/..%5csecret.txt", 400, "", "", ""},
		{"GET", "/escape.txt", 404, "", "", ""},
		{"POST", "/", 405, "", "", ""},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://site.test"+tc.target, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tc.code, rec.Body)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("body = %q, want %q", rec.Body, tc.body)
			}
			if strings.Contains(rec.Body.String(), "SECRET") {
				t.Errorf("served a secret: %q", rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), tc.ctype)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
		})
	}
}

func TestStaticHandlerCaching(t *testing.T) {
	t.Parallel()
	h, err := newStaticHandler(site(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/style.css", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Last-Modified") != "" {
		t.Fatalf("ETag %q, Last-Modified %q: want a content ETag and no date", etag, rec.Header().Get("Last-Modified"))
	}
	req := httptest.NewRequest("GET", "/style.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rec.Code)
	}
	req = httptest.NewRequest("GET", "/style.css", nil)
	req.Header.Set("Range", "bytes=0-3")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusPartialContent || rec.Body.String() != "body" {
		t.Errorf("range GET = %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("HTML Cache-Control = %q, want no-cache", rec.Header().Get("Cache-Control"))
	}
}

func TestStaticHandler404Page(t *testing.T) {
	t.Parallel()
	root := site(t)
	if err := os.WriteFile(filepath.Join(root, "404.html"), []byte("<h1>lost</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := newStaticHandler(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if rec.Code != 404 || rec.Body.String() != "<h1>lost</h1>" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("404 = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// TestStaticServerRaw sends request lines no client would send (a raw
// "..") to a real server, and checks it stops gracefully.
func TestStaticServerRaw(t *testing.T) {
	t.Parallel()
	root := site(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- RunStaticServer(ctx, []string{"--root", root, "--host", "127.0.0.1"}, []string{"PORT=" + strconv.Itoa(port)}, logs)
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var conn net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, logs)
	}
	for target, want := range map[string]int{
		"/":                          200,
		"/../secret.txt":             400,
		"/docs/../../secret.txt":     400,
		"/%2e%2e/%2e%2e/secret.txt":  400,
		"/..%2F..%2Fsecret.txt":      400,
		"/docs/..%2f../secret.txt":   400,
		"/./../secret.txt":           400,
		"/escape.txt":                404,
		"/docs/%2e%2e/%2e%2e/secret": 400,
	} {
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || strings.Contains(string(body), "SECRET") {
			t.Errorf("GET %s = %d %q, want %d", target, resp.StatusCode, body, want)
		}
		conn.Close()
		if conn, err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunStaticServer = %v, want a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
}

// FuzzStaticName: whatever the path, a name staticName accepts is a valid
// io/fs name with no "..", no dotfile (but .well-known) and no backslash.
func FuzzStaticName(f *testing.F) {
	for _, s := range []string{"/", "/a/b.css", "/../x", "/%2e%2e", "/a%2fb", "//x", "/.well-known/a", "/.git", "/a/./b", "/a\\b"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, urlPath, escaped string) {
		name, status := staticName(urlPath, escaped)
		if status != 0 {
			return
		}
		if !fs.ValidPath(name) {
			t.Fatalf("staticName(%q) = %q, not a valid fs path", urlPath, name)
		}
		for _, seg := range strings.Split(name, "/") {
			if seg == ".." || (strings.HasPrefix(seg, ".") && seg != "." && seg != ".well-known") {
				t.Fatalf("staticName(%q) = %q", urlPath, name)
			}
		}
		if strings.ContainsAny(name, "\\\x00") || strings.Contains(strings.ToLower(escaped), "%2f") {
			t.Fatalf("staticName(%q, %q) = %q", urlPath, escaped, name)
		}
	})
}
