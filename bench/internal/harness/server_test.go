package harness

// These tests pin the parsing of what `apprun serve` prints, the part of
// the harness that breaks when the server's output changes.

import "testing"

func TestParseServing(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want servingLine
		ok   bool
	}{
		{
			name: "no TLS, SSH",
			line: `time=2026-11-26T05:00:00.000Z level=INFO msg="apprun is serving" api=http://127.0.0.1:4001 router=http://127.0.0.1:4002 https="" apps_domain=localhost git_ssh=127.0.0.1:4003 data_dir=/tmp/d startup=12ms`,
			want: servingLine{api: "http://127.0.0.1:4001", router: "http://127.0.0.1:4002", gitSSH: "127.0.0.1:4003"},
			ok:   true,
		},
		{
			name: "TLS, no SSH, quoted data dir",
			line: `time=x level=INFO msg="apprun is serving" api=http://127.0.0.1:1 router=http://127.0.0.1:2 https=https://127.0.0.1:3 apps_domain=localhost git_ssh="" data_dir="/tmp/a b" startup=1s`,
			want: servingLine{api: "http://127.0.0.1:1", router: "http://127.0.0.1:2", https: "https://127.0.0.1:3"},
			ok:   true,
		},
		{
			name: "another line",
			line: `time=x level=INFO msg="git push over SSH" addr=127.0.0.1:4003`,
		},
		{
			name: "no API address",
			line: `time=x level=INFO msg="apprun is serving" router=http://127.0.0.1:2`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseServing(tc.line)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("parseServing = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	out := "First start: created an admin API token. It is shown once; keep it safe:\n\n    apprun_abc123\n\n"
	if tok, ok := parseToken(out); !ok || tok != "apprun_abc123" {
		t.Fatalf("parseToken = %q, %v", tok, ok)
	}
	if _, ok := parseToken("Log the CLI in with:\n\n    apprun login --server x --token apprun_abc\n"); ok {
		t.Fatal("parseToken took the login hint for the token")
	}
}

func FuzzParseServing(f *testing.F) {
	f.Add(`msg="apprun is serving" api=http://127.0.0.1:1 router=http://127.0.0.1:2 https="" git_ssh=127.0.0.1:3`)
	f.Fuzz(func(t *testing.T, line string) {
		if l, ok := parseServing(line); ok && (l.api == "" || l.router == "") {
			t.Fatalf("parseServing(%q) = %+v without both addresses", line, l)
		}
	})
}
