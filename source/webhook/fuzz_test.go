package webhook

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// FuzzVerify: for every provider, a delivery signed with the secret is
// accepted, the same delivery with the body changed is refused (where the
// provider signs the body), a random credential is refused, and nothing
// panics.
func FuzzVerify(f *testing.F) {
	for _, p := range Providers() {
		f.Add(p, pushBody(p, "refs/heads/main", testCommit), testSecret, "sha256=00")
	}
	f.Add(GitHub, []byte("Hello, World!"), "It's a Secret to Everybody", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	f.Add(Gitea, []byte{}, "x", "")
	f.Fuzz(func(t *testing.T, provider string, body []byte, secret, cred string) {
		for _, p := range Providers() {
			// A random credential almost never verifies; when it does,
			// it must be the right one.
			h := http.Header{}
			h.Set(sigHeader(p), cred)
			if Verify(p, h, body, secret) == nil {
				if secret == "" {
					t.Fatalf("%s: accepted with no secret", p)
				}
				if want := signedRequest(p, body, secret).h.Get(sigHeader(p)); cred != want {
					t.Fatalf("%s: accepted credential %q, want only %q", p, cred, want)
				}
			}
			r := signedRequest(p, body, secret)
			err := Verify(p, r.h, body, secret)
			if secret == "" || len(body) > MaxBody {
				if err == nil {
					t.Fatalf("%s: accepted with secret %q and %d bytes", p, secret, len(body))
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: a signed delivery is refused: %v", p, err)
			}
			if p != GitLab {
				changed := append(bytes.Clone(body), 'x')
				if Verify(p, r.h, changed, secret) == nil {
					t.Fatalf("%s: a changed body passes", p)
				}
			}
		}
		// Any provider name: no panic, and an unknown one never passes.
		h := http.Header{}
		h.Set("X-Hub-Signature-256", cred)
		h.Set("X-Gitlab-Token", cred)
		h.Set("X-Gitea-Signature", cred)
		if Verify(provider, h, body, secret) == nil && !KnownProvider(provider) {
			t.Fatalf("unknown provider %q passed", provider)
		}
	})
}

// FuzzParse: whatever the body and headers, Parse does not panic, and what
// it accepts is safe to hand to git and the store: a valid branch, a
// 40-hex commit, a printable delivery ID.
func FuzzParse(f *testing.F) {
	for _, p := range Providers() {
		f.Add(p, "push", "d-1", pushBody(p, "refs/heads/main", testCommit))
		f.Add(p, "Push Hook", "d-2", pushBody(p, "refs/tags/v1", testCommit))
		f.Add(p, "push", "d-3", pushBody(p, "refs/heads/main", zeroCommit))
	}
	f.Add(GitHub, "ping", "d-4", []byte(`{"zen":"x"}`))
	f.Add(GitLab, "Push Hook", "d-5", []byte(`{"object_kind":"push","ref":"refs/heads/a\u0000b","after":null}`))
	f.Fuzz(func(t *testing.T, provider, event, delivery string, body []byte) {
		for _, p := range append(Providers(), provider) {
			h := http.Header{}
			h.Set(eventHeader(p), event)
			h.Set(deliveryHeader(p), delivery)
			ev, err := Parse(p, h, body)
			if err != nil {
				continue
			}
			if !KnownProvider(p) {
				t.Fatalf("unknown provider %q parsed", p)
			}
			if ev.DeliveryID == "" || len(ev.DeliveryID) > 200 || strings.ContainsAny(ev.DeliveryID, " \r\n\x00") {
				t.Fatalf("delivery ID %q", ev.DeliveryID)
			}
			if ev.Ping() {
				continue
			}
			if ev.EventType != EventPush {
				t.Fatalf("event type %q", ev.EventType)
			}
			if !strings.HasPrefix(ev.Ref, "refs/") || hasControl(ev.Ref) {
				t.Fatalf("ref %q", ev.Ref)
			}
			if ev.Branch != "" && (strings.HasPrefix(ev.Branch, "-") || ev.Ref != "refs/heads/"+ev.Branch) {
				t.Fatalf("branch %q of ref %q", ev.Branch, ev.Ref)
			}
			if ev.Deleted != (ev.Commit == "") || (!ev.Deleted && !isCommit(ev.Commit)) {
				t.Fatalf("commit %q deleted=%v", ev.Commit, ev.Deleted)
			}
			if hasControl(ev.RepoURL) {
				t.Fatalf("repo URL %q", ev.RepoURL)
			}
		}
	})
}
