package source

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeResolver answers every name with the same addresses.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestResolveFetchURL(t *testing.T) {
	r := fakeResolver{
		"github.com":       {"140.82.121.4"},
		"v6.example.com":   {"2001:db8::1"},
		"lan.example.com":  {"192.168.1.10"},
		"ula.example.com":  {"fd12:3456::1"},
		"local.example":    {"127.0.0.1"},
		"local6.example":   {"::1"},
		"meta.example":     {"169.254.169.254"},
		"meta6.example":    {"fd00:ec2::254"},
		"alimeta.example":  {"100.100.100.200"},
		"ll.example":       {"169.254.10.1"},
		"ll6.example":      {"fe80::1"},
		"zero.example":     {"0.0.0.0"},
		"zero6.example":    {"::"},
		"thisnet.example":  {"0.1.2.3"},
		"mapped.example":   {"::ffff:127.0.0.1"},
		"mcast.example":    {"239.1.1.1"},
		"mixed.example":    {"127.0.0.1", "140.82.121.4"},
		"private6.example": {"::1", "fe80::2"},
	}
	for _, tc := range []struct {
		url     string
		resolve string // the pinned entry; "" with refused means an error
		refused bool
		private bool
		msg     string
	}{
		{url: "https://github.com/acme/web.git", resolve: "github.com:443:140.82.121.4"},
		{url: "http://github.com:8080/acme/web.git", resolve: "github.com:8080:140.82.121.4"},
		{url: "https://v6.example.com/r.git", resolve: "v6.example.com:443:[2001:db8::1]"},
		{url: "https://lan.example.com/r.git", resolve: "lan.example.com:443:192.168.1.10"},
		{url: "https://ula.example.com/r.git", resolve: "ula.example.com:443:[fd12:3456::1]"},
		{url: "https://mixed.example/r.git", resolve: "mixed.example:443:140.82.121.4"},
		{url: "https://140.82.121.4/r.git"},
		{url: "https://local.example/r.git", refused: true, msg: "loopback"},
		{url: "https://local6.example/r.git", refused: true, msg: "loopback"},
		{url: "https://meta.example/latest/meta-data", refused: true, msg: "link-local"},
		{url: "https://meta6.example/r.git", refused: true, msg: "metadata"},
		{url: "https://alimeta.example/r.git", refused: true, msg: "metadata"},
		{url: "https://ll.example/r.git", refused: true, msg: "link-local"},
		{url: "https://ll6.example/r.git", refused: true, msg: "link-local"},
		{url: "https://zero.example/r.git", refused: true, msg: "unspecified"},
		{url: "https://zero6.example/r.git", refused: true, msg: "unspecified"},
		{url: "https://thisnet.example/r.git", refused: true, msg: "unspecified"},
		{url: "https://mapped.example/r.git", refused: true, msg: "loopback"},
		{url: "https://mcast.example/r.git", refused: true, msg: "multicast"},
		{url: "https://private6.example/r.git", refused: true, msg: "link-local"},
		{url: "http://127.0.0.1:8080/r.git", refused: true, msg: "loopback"},
		{url: "http://[::1]/r.git", refused: true, msg: "loopback"},
		{url: "http://169.254.169.254/", refused: true, msg: "link-local"},
		{url: "http://[fd00:ec2::254]/", refused: true, msg: "metadata"},
		{url: "http://0.0.0.0/r.git", refused: true, msg: "unspecified"},
		{url: "ssh://git@github.com/acme/web.git", refused: true, msg: "ssh:// is not supported"},
		{url: "git://github.com/acme/web.git", refused: true, msg: "git:// is not supported"},
		{url: "file:///srv/repo.git", refused: true, msg: "file://"},
		{url: "ext::sh -c touch% /tmp/x", refused: true},
		{url: "https://user:pass@github.com/acme/web.git", refused: true, msg: "credentials"},
		{url: "https://github.com/a b", refused: true},
		{url: "https:///r.git", refused: true, msg: "no host"},
		{url: "-uhttps://github.com", refused: true},
		{url: "", refused: true},
		// The operator allows private addresses: loopback is pinned too.
		{url: "https://local.example/r.git", private: true, resolve: "local.example:443:127.0.0.1"},
		{url: "file:///srv/repo.git", private: true},
	} {
		got, err := resolveFetchURL(t.Context(), r, tc.url, tc.private)
		if tc.refused {
			if err == nil {
				t.Errorf("%q: fetched from (%+v), want refused", tc.url, got)
			} else if !errors.Is(err, ErrFetchRefused) {
				t.Errorf("%q: %v does not wrap ErrFetchRefused", tc.url, err)
			} else if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%q: %v does not say %q", tc.url, err, tc.msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.url, err)
			continue
		}
		if got.resolve != tc.resolve {
			t.Errorf("%q: pinned %q, want %q", tc.url, got.resolve, tc.resolve)
		}
	}
	if _, err := resolveFetchURL(t.Context(), r, "https://nowhere.example/r.git", false); err == nil || errors.Is(err, ErrFetchRefused) {
		t.Errorf("an unknown host: %v", err)
	}
}

// gitRepo makes a repository with one commit of files and returns its
// path and the commit.
func gitRepo(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run("init", "-q", "-b", "main")
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("add", "-A")
	run("commit", "-q", "-m", "first")
	return dir, run("rev-parse", "HEAD")
}

// serveGit serves the repositories under root over smart HTTP with the
// real git http-backend, on loopback. When auth is set, requests must
// carry it as their Authorization header.
func serveGit(t *testing.T, root, auth string) *httptest.Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("no git: %v", err)
	}
	h := &cgi.Handler{
		Path:   filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		Stderr: io.Discard,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth != "" && r.Header.Get("Authorization") != auth {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchOverHTTP(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	repo, commit := gitRepo(t, map[string]string{"main.go": "package main\n", "sub/dir/file.txt": "hello\n"})
	root := filepath.Dir(repo)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:tok-123"))
	srv := serveGit(t, root, auth)
	url := srv.URL + "/repo/.git"

	dst := filepath.Join(t.TempDir(), "checkout")
	var log strings.Builder
	err := Fetch(t.Context(), FetchOptions{RepoURL: url, Commit: commit, Dir: dst, Credentials: "tok-123", AllowPrivate: true, Log: &log})
	if err != nil {
		t.Fatalf("Fetch: %v\n%s", err, log.String())
	}
	for name, want := range map[string]string{"main.go": "package main\n", "sub/dir/file.txt": "hello\n"} {
		if got, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v", name, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, ".git")); !os.IsNotExist(err) {
		t.Errorf("the checkout has a .git: %v", err)
	}
	// Nothing is left beside the checkout.
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("left in the parent: %v", ents)
	}
	if strings.Contains(log.String(), "tok-123") {
		t.Error("the log has the token")
	}

	// git connects to the address checked here, not to what it would
	// resolve itself: "git.invalid" resolves nowhere but in this resolver.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	pinned := filepath.Join(t.TempDir(), "pinned")
	err = Fetch(t.Context(), FetchOptions{RepoURL: "http://git.invalid:" + port + "/repo/.git", Commit: commit, Dir: pinned,
		Credentials: "tok-123", AllowPrivate: true, Resolver: fakeResolver{"git.invalid": {"127.0.0.1"}}})
	if err != nil {
		t.Fatalf("Fetch through the pinned address: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pinned, "main.go")); err != nil {
		t.Errorf("pinned fetch: %v", err)
	}

	// Wrong credentials, a commit the remote lacks, loopback without
	// AllowPrivate, and an existing destination.
	for _, tc := range []struct {
		name string
		opts FetchOptions
		msg  string
	}{
		{"wrong token", FetchOptions{RepoURL: url, Commit: commit, Credentials: "nope", AllowPrivate: true}, "GIT_TOKEN"},
		{"no token", FetchOptions{RepoURL: url, Commit: commit, AllowPrivate: true}, "GIT_TOKEN"},
		{"missing commit", FetchOptions{RepoURL: url, Commit: strings.Repeat("ab", 20), Credentials: "tok-123", AllowPrivate: true}, "has no commit"},
		{"loopback", FetchOptions{RepoURL: url, Commit: commit, Credentials: "tok-123"}, "loopback"},
		{"short commit", FetchOptions{RepoURL: url, Commit: commit[:12], Credentials: "tok-123", AllowPrivate: true}, "not a full commit"},
		{"option as commit", FetchOptions{RepoURL: url, Commit: "--upload-pack=touch /tmp/x", AllowPrivate: true}, "not a full commit"},
	} {
		tc.opts.Dir = filepath.Join(t.TempDir(), "checkout")
		err := Fetch(t.Context(), tc.opts)
		t.Logf("%s: %v", tc.name, err)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.msg)
		}
		if err != nil && strings.Contains(err.Error(), "tok-123") {
			t.Errorf("%s: the error has the token: %v", tc.name, err)
		}
		if _, serr := os.Stat(tc.opts.Dir); !os.IsNotExist(serr) {
			t.Errorf("%s: the destination exists after a failure", tc.name)
		}
	}
	if err := Fetch(t.Context(), FetchOptions{RepoURL: url, Commit: commit, Dir: dst, Credentials: "tok-123", AllowPrivate: true}); err == nil {
		t.Error("fetched into an existing directory")
	}
}

// TestFetchArgvAndEnv runs Fetch with a stand-in git that records its
// arguments and environment: the token is in neither argv nor anywhere but
// the GIT_CONFIG_VALUE_0 header, and every fetch is pinned and locked down.
func TestFetchArgvAndEnv(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "calls")
	fake := filepath.Join(dir, "git")
	script := "#!/bin/sh\n{ printf 'ARGV'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; env | sed 's/^/ENV /'; } >> " + rec + "\n" +
		"case \"$*\" in *\" fetch \"*) echo 'fatal: boom' >&2; exit 128;; esac\nexit 0\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	commit := strings.Repeat("a", 40)
	err := Fetch(t.Context(), FetchOptions{
		RepoURL: "https://github.com/acme/web.git", Commit: commit, Dir: filepath.Join(dir, "out"),
		Credentials: "ghp_secretTOKEN", Git: fake, Resolver: fakeResolver{"github.com": {"140.82.121.4"}},
	})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Fetch: %v", err)
	}
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	var fetchLine string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "ARGV") {
			if strings.Contains(line, "ghp_secretTOKEN") || strings.Contains(line, base64.StdEncoding.EncodeToString([]byte("x-access-token:ghp_secretTOKEN"))) {
				t.Errorf("the token is in argv: %s", line)
			}
			if strings.Contains(line, "[fetch]") {
				fetchLine = line
			}
		}
		if strings.HasPrefix(line, "ENV ") && strings.Contains(line, "Authorization") &&
			line != "ENV GIT_CONFIG_VALUE_0=Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("x-access-token:ghp_secretTOKEN")) {
			t.Errorf("unexpected env line %s", line)
		}
	}
	for _, want := range []string{"[protocol.allow=never]", "[protocol.https.allow=always]", "[http.followRedirects=false]",
		"[http.curloptResolve=github.com:443:140.82.121.4]", "[core.hooksPath=/dev/null]", "[--end-of-options] [https://github.com/acme/web.git] [" + commit + "]", "[--depth=1]"} {
		if !strings.Contains(fetchLine, want) {
			t.Errorf("the fetch lacks %s: %s", want, fetchLine)
		}
	}
	if strings.Contains(fetchLine, "protocol.file.allow") {
		t.Errorf("file protocol allowed: %s", fetchLine)
	}
	for _, env := range []string{"ENV GIT_CONFIG_KEY_0=http.extraHeader", "ENV GIT_TERMINAL_PROMPT=0", "ENV GIT_CONFIG_NOSYSTEM=1"} {
		if !strings.Contains(string(data), env) {
			t.Errorf("git's environment lacks %s", env)
		}
	}
}
