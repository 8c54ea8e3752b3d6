package source

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHTTPPath(t *testing.T) {
	for _, tc := range []struct {
		path, service, op string
	}{
		{"/git/hello.git/info/refs", "hello", "info/refs"},
		{"/git/hello.git/git-receive-pack", "hello", ReceivePack},
		{"/git/a-1.git/git-upload-pack", "a-1", UploadPack},
	} {
		svc, op, err := ParseHTTPPath(tc.path)
		if err != nil || svc != tc.service || op != tc.op {
			t.Errorf("ParseHTTPPath(%q) = %q, %q, %v; want %q, %q", tc.path, svc, op, err, tc.service, tc.op)
		}
	}
	for _, bad := range []string{
		"/git/../hello.git/info/refs",
		"/git/..git/info/refs",
		"/git/%2e%2e.git/info/refs",
		"/git/%2E%2E/hello.git/info/refs",
		"/git/hello%2egit/info/refs",
		"/git//etc/passwd.git/info/refs",
		"/git/hello.git/../other.git/info/refs",
		"/git/hello.git/objects/info/packs",
		"/git/hello.git/HEAD",
		"/git/hello.git/info/refs/",
		"/git/hello/info/refs",
		"/git/Hello.git/info/refs",
		"/git/hello\x00.git/info/refs",
		"/git/hello\n.git/info/refs",
		"/git/hello%00.git/info/refs",
		"/git/hello%0a.git/info/refs",
		"/git/-x.git/info/refs",
		"/git/x-.git/info/refs",
		"/git/.git/info/refs",
		"/git/a.b.git/info/refs",
		"/git/hello.git",
		"/git/",
		"/api/v1/services",
		"/git/" + strings.Repeat("a", 64) + ".git/info/refs",
		"/git/hello.git/git-receive-pack\\",
	} {
		if svc, op, err := ParseHTTPPath(bad); err == nil || !errors.Is(err, ErrBadName) {
			t.Errorf("ParseHTTPPath(%q) = %q, %q, %v; want ErrBadName", bad, svc, op, err)
		}
	}
}

func TestParseSSHCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd, verb, service string
	}{
		{"git-receive-pack 'hello.git'", ReceivePack, "hello"},
		{"git-receive-pack '/hello.git'", ReceivePack, "hello"},
		{"git-upload-pack '/hello.git'", UploadPack, "hello"},
		{"git-upload-pack 'hello'", UploadPack, "hello"},
	} {
		verb, svc, err := ParseSSHCommand(tc.cmd)
		if err != nil || verb != tc.verb || svc != tc.service {
			t.Errorf("ParseSSHCommand(%q) = %q, %q, %v", tc.cmd, verb, svc, err)
		}
	}
	for _, bad := range []string{
		"",
		"git-receive-pack",
		"git-receive-pack hello.git",
		"git-receive-pack '../hello.git'",
		"git-receive-pack '/../hello.git'",
		"git-receive-pack '..'",
		"git-receive-pack '%2e%2e.git'",
		"git-receive-pack '/etc/passwd'",
		"git-receive-pack '//hello.git'",
		"git-receive-pack 'hello.git'; touch /tmp/x",
		"git-receive-pack 'hello.git' && touch /tmp/x",
		"git-receive-pack 'hello.git'\n",
		"git-receive-pack 'hel\x00lo.git'",
		"git-receive-pack 'hel\nlo.git'",
		"git-receive-pack '$(touch /tmp/x).git'",
		"git-receive-pack '--upload-pack=touch /tmp/x'",
		"git-receive-pack  'hello.git'",
		"git receive-pack 'hello.git'",
		"git-upload-archive 'hello.git'",
		"sh -c 'id'",
		"git-receive-pack 'Hello.git'",
		"git-receive-pack 'a/b.git'",
		"git-receive-pack \"hello.git\"",
		"scp -t hello.git",
	} {
		if verb, svc, err := ParseSSHCommand(bad); err == nil || !errors.Is(err, ErrBadName) {
			t.Errorf("ParseSSHCommand(%q) = %q, %q, %v; want ErrBadName", bad, verb, svc, err)
		}
	}
}

func TestParseUpdates(t *testing.T) {
	zero := strings.Repeat("0", 40)
	sha := strings.Repeat("a", 40)
	good, err := parseUpdates([]string{zero + " " + sha + " refs/heads/--upload-pack=touch /tmp/x"})
	if err != nil || good[0].Ref != "refs/heads/--upload-pack=touch /tmp/x" || good[0].deletes() {
		t.Fatalf("a ref that looks like an option is data: %+v %v", good, err)
	}
	if u, _ := parseUpdates([]string{sha + " " + zero + " refs/heads/main"}); !u[0].deletes() {
		t.Error("a zero new object is a deletion")
	}
	for _, bad := range [][]string{
		nil,
		{""},
		{zero + " " + sha},
		{zero + " " + sha + " main"},
		{zero + " " + sha + " refs/heads/a\x00b"},
		{zero + " " + sha + " refs/heads/a\rb"},
		{"zz" + zero[2:] + " " + sha + " refs/heads/main"},
		{zero + " " + strings.Repeat("A", 40) + " refs/heads/main"},
		{zero + " " + sha[:39] + " refs/heads/main"},
		{"--upload-pack=x " + sha + " refs/heads/main"},
	} {
		if u, err := parseUpdates(bad); err == nil {
			t.Errorf("parseUpdates(%q) = %+v; want an error", bad, u)
		}
	}
}

// Names that pass must be DNS labels: nothing that could reach a path or
// a command.
func checkParsedName(t *testing.T, name string) {
	t.Helper()
	if name == "" || len(name) > 63 || strings.ContainsAny(name, "./\\%\x00\n\r'\" $;&|`") || strings.Contains(name, "..") {
		t.Fatalf("accepted unsafe service name %q", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			t.Fatalf("accepted service name %q with %q", name, r)
		}
	}
}

func FuzzParseSSHCommand(f *testing.F) {
	for _, s := range []string{"git-receive-pack 'hello.git'", "git-upload-pack '/a.git'", "git-receive-pack '../x'", "git-receive-pack '%2e%2e'", "x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		verb, svc, err := ParseSSHCommand(cmd)
		if err != nil {
			return
		}
		if verb != ReceivePack && verb != UploadPack {
			t.Fatalf("verb %q", verb)
		}
		checkParsedName(t, svc)
	})
}

func FuzzParseHTTPPath(f *testing.F) {
	for _, s := range []string{"/git/hello.git/info/refs", "/git/a.git/git-receive-pack", "/git/%2e%2e.git/info/refs", "/git/../x.git/info/refs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		svc, op, err := ParseHTTPPath(p)
		if err != nil {
			return
		}
		if op != "info/refs" && op != ReceivePack && op != UploadPack {
			t.Fatalf("op %q", op)
		}
		checkParsedName(t, svc)
	})
}
