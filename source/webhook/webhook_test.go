package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

const (
	testSecret  = "s3cret-for-the-web-service"
	otherSecret = "s3cret-for-another-service"
	testCommit  = "8d9c0b2f6f1e4b7a9c3d2e1f0a9b8c7d6e5f4a3b"
)

// pushBody is a push of testCommit to ref in the provider's own shape (the
// fields apprun reads, among some it does not).
func pushBody(provider, ref, after string) []byte {
	var v map[string]any
	switch provider {
	case GitHub:
		v = map[string]any{
			"ref": ref, "before": zeroCommit, "after": after, "created": true, "deleted": false, "forced": false,
			"repository":  map[string]any{"full_name": "acme/web", "clone_url": "https://github.com/acme/web.git", "private": false},
			"pusher":      map[string]any{"name": "ada"},
			"head_commit": map[string]any{"id": after, "message": "Ship it"},
		}
	case GitLab:
		v = map[string]any{
			"object_kind": "push", "event_name": "push", "ref": ref, "before": zeroCommit, "after": after, "checkout_sha": after,
			"project":    map[string]any{"path_with_namespace": "acme/web", "git_http_url": "https://gitlab.com/acme/web.git"},
			"repository": map[string]any{"git_http_url": "https://gitlab.com/acme/web.git"},
		}
	case Gitea:
		v = map[string]any{
			"ref": ref, "before": zeroCommit, "after": after, "compare_url": "",
			"repository": map[string]any{"full_name": "acme/web", "clone_url": "https://gitea.example.com/acme/web.git"},
			"pusher":     map[string]any{"login": "ada"},
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// request is one webhook delivery as the handler sees it, with the secret
// the service has.
type request struct {
	h      http.Header
	body   []byte
	secret string
}

// signedRequest is a valid push delivery for provider.
func signedRequest(provider string, body []byte, secret string) request {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	switch provider {
	case GitHub:
		h.Set("X-GitHub-Event", "push")
		h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(Sign(body, secret)))
	case GitLab:
		h.Set("X-Gitlab-Event", "Push Hook")
		h.Set("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e")
		h.Set("X-Gitlab-Token", secret)
	case Gitea:
		h.Set("X-Gitea-Event", "push")
		h.Set("X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473")
		h.Set("X-Gitea-Signature", hex.EncodeToString(Sign(body, secret)))
	}
	return request{h: h, body: body, secret: secret}
}

// outcome runs what the handler runs, in its order, and says where the
// request stopped: "verify", "parse", "ignored" (a ping, a deleted ref, a
// tag, another branch) or "deploy".
func outcome(provider string, r request, branch string) (string, error) {
	if err := Verify(provider, r.h, r.body, r.secret); err != nil {
		return "verify", err
	}
	ev, err := Parse(provider, r.h, r.body)
	if err != nil {
		return "parse", err
	}
	if ev.Ping() || ev.Deleted || ev.Branch != branch {
		return "ignored", nil
	}
	return "deploy", nil
}

func sigHeader(provider string) string {
	switch provider {
	case GitHub:
		return "X-Hub-Signature-256"
	case GitLab:
		return "X-Gitlab-Token"
	}
	return "X-Gitea-Signature"
}

func eventHeader(provider string) string {
	switch provider {
	case GitHub:
		return "X-GitHub-Event"
	case GitLab:
		return "X-Gitlab-Event"
	}
	return "X-Gitea-Event"
}

func deliveryHeader(provider string) string {
	switch provider {
	case GitHub:
		return "X-GitHub-Delivery"
	case GitLab:
		return "X-Gitlab-Event-UUID"
	}
	return "X-Gitea-Delivery"
}

// resign signs r's (changed) body again with secret, so that a case
// reaches Parse.
func resign(provider string, r *request) {
	s := signedRequest(provider, r.body, r.secret)
	r.h.Set(sigHeader(provider), s.h.Get(sigHeader(provider)))
}

type matrixCase struct {
	name string
	// providers limits the case; nil means all three.
	providers []string
	mutate    func(p string, r *request)
	// stage is where the request must stop.
	stage string
}

// setSig replaces the credential header with v.
func setSig(v func(p string, r request) string) func(string, *request) {
	return func(p string, r *request) { r.h.Set(sigHeader(p), v(p, *r)) }
}

// hexSig is the credential's hex digits (GitHub and Gitea).
func hexSig(r request) string { return hex.EncodeToString(Sign(r.body, r.secret)) }

// prefixed puts GitHub's prefix back on hex digits (Gitea has none).
func prefixed(p, hexDigits string) string {
	if p == GitHub {
		return "sha256=" + hexDigits
	}
	return hexDigits
}

var signedOnly = []string{GitHub, Gitea}

// negativeMatrix is every way a delivery can be wrong. None may deploy.
var negativeMatrix = []matrixCase{
	// The credential itself.
	{name: "missing credential header", mutate: func(p string, r *request) { r.h.Del(sigHeader(p)) }, stage: "verify"},
	{name: "empty credential header", mutate: setSig(func(string, request) string { return "" }), stage: "verify"},
	{name: "two credential headers", mutate: func(p string, r *request) { r.h.Add(sigHeader(p), r.h.Get(sigHeader(p))) }, stage: "verify"},
	{name: "credential of another service's secret", mutate: func(p string, r *request) {
		r.h.Set(sigHeader(p), signedRequest(p, r.body, otherSecret).h.Get(sigHeader(p)))
	}, stage: "verify"},
	{name: "no secret configured", mutate: func(p string, r *request) { r.secret = "" }, stage: "verify"},
	{name: "no secret configured, signed with the empty secret", mutate: func(p string, r *request) {
		*r = signedRequest(p, r.body, "")
	}, stage: "verify"},
	{name: "secret with a trailing space", mutate: func(p string, r *request) {
		r.h.Set(sigHeader(p), signedRequest(p, r.body, r.secret+" ").h.Get(sigHeader(p)))
	}, stage: "verify"},
	{name: "secret truncated by one", mutate: func(p string, r *request) {
		r.h.Set(sigHeader(p), signedRequest(p, r.body, r.secret[:len(r.secret)-1]).h.Get(sigHeader(p)))
	}, stage: "verify"},
	{name: "oversized body, correctly signed", mutate: func(p string, r *request) {
		r.body = append(bytes.Clone(r.body[:len(r.body)-1]), []byte(`,"pad":"`+strings.Repeat("x", MaxBody)+`"}`)...)
		resign(p, r)
	}, stage: "verify"},
	{name: "credential with a trailing newline", mutate: setSig(func(p string, r request) string { return r.h.Get(sigHeader(p)) + "\n" }), stage: "verify"},
	{name: "credential with a leading space", mutate: setSig(func(p string, r request) string { return " " + r.h.Get(sigHeader(p)) }), stage: "verify"},
	{name: "credential with an extra character", mutate: setSig(func(p string, r request) string { return r.h.Get(sigHeader(p)) + "0" }), stage: "verify"},
	{name: "credential truncated by one", mutate: setSig(func(p string, r request) string { v := r.h.Get(sigHeader(p)); return v[:len(v)-1] }), stage: "verify"},
	{name: "credential in upper case", mutate: setSig(func(p string, r request) string { return strings.ToUpper(r.h.Get(sigHeader(p))) }), stage: "verify"},
	{name: "credential sent in another provider's header", mutate: func(p string, r *request) {
		other := map[string]string{GitHub: Gitea, GitLab: GitHub, Gitea: GitHub}[p]
		r.h.Set(sigHeader(other), r.h.Get(sigHeader(p)))
		r.h.Del(sigHeader(p))
	}, stage: "verify"},

	// Signatures over the body (GitLab sends the secret itself and signs
	// nothing, so these do not apply to it).
	{name: "sha1= prefix", providers: signedOnly, mutate: setSig(func(p string, r request) string { return "sha1=" + hexSig(r) }), stage: "verify"},
	{name: "SHA256= prefix", providers: signedOnly, mutate: setSig(func(p string, r request) string { return "SHA256=" + hexSig(r) }), stage: "verify"},
	{name: "sha512= prefix", providers: signedOnly, mutate: setSig(func(p string, r request) string { return "sha512=" + hexSig(r) }), stage: "verify"},
	{name: "HMAC-SHA1 of the body", providers: signedOnly, mutate: setSig(func(p string, r request) string {
		m := hmac.New(sha1.New, []byte(r.secret))
		m.Write(r.body)
		return prefixed(p, hex.EncodeToString(m.Sum(nil)))
	}), stage: "verify"},
	{name: "uppercase hex", providers: signedOnly, mutate: setSig(func(p string, r request) string { return prefixed(p, strings.ToUpper(hexSig(r))) }), stage: "verify"},
	{name: "truncated hex", providers: signedOnly, mutate: setSig(func(p string, r request) string { return prefixed(p, hexSig(r)[:63]) }), stage: "verify"},
	{name: "half the hex", providers: signedOnly, mutate: setSig(func(p string, r request) string { return prefixed(p, hexSig(r)[:32]) }), stage: "verify"},
	{name: "base64 instead of hex", providers: signedOnly, mutate: setSig(func(p string, r request) string {
		return prefixed(p, strings.TrimRight(string(mustJSON(Sign(r.body, r.secret))), `"`)[1:])
	}), stage: "verify"},
	{name: "Gitea signature with GitHub's prefix", providers: []string{Gitea}, mutate: setSig(func(p string, r request) string { return "sha256=" + hexSig(r) }), stage: "verify"},
	{name: "GitHub signature without its prefix", providers: []string{GitHub}, mutate: setSig(func(p string, r request) string { return hexSig(r) }), stage: "verify"},
	{name: "one byte of the body changed", providers: signedOnly, mutate: func(p string, r *request) {
		r.body = bytes.Replace(r.body, []byte(testCommit[:8]), []byte("ffffffff"), 1)
	}, stage: "verify"},
	{name: "one bit of the body flipped", providers: signedOnly, mutate: func(p string, r *request) {
		r.body = bytes.Clone(r.body)
		r.body[len(r.body)/2] ^= 1
	}, stage: "verify"},
	{name: "body re-serialised (same JSON, other bytes)", providers: signedOnly, mutate: func(p string, r *request) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, r.body, "", "  "); err != nil {
			panic(err)
		}
		r.body = buf.Bytes()
	}, stage: "verify"},
	{name: "body with a trailing newline", providers: signedOnly, mutate: func(p string, r *request) { r.body = append(bytes.Clone(r.body), '\n') }, stage: "verify"},
	{name: "empty body", providers: signedOnly, mutate: func(p string, r *request) { r.body = nil }, stage: "verify"},
	{name: "signature of an empty body", providers: signedOnly, mutate: setSig(func(p string, r request) string {
		return prefixed(p, hex.EncodeToString(Sign(nil, r.secret)))
	}), stage: "verify"},

	// GitLab's token.
	{name: "token with GitHub's prefix", providers: []string{GitLab}, mutate: setSig(func(p string, r request) string { return "sha256=" + r.secret }), stage: "verify"},
	{name: "HMAC of the body as the token", providers: []string{GitLab}, mutate: setSig(func(p string, r request) string { return hexSig(r) }), stage: "verify"},
	{name: "SHA-256 of the secret as the token", providers: []string{GitLab}, mutate: setSig(func(p string, r request) string {
		return hex.EncodeToString(Sign(nil, r.secret))
	}), stage: "verify"},

	// Validly signed, but not a deployable push. The body is signed again
	// after each change: these are requests from the provider itself (or
	// someone holding the secret), and still must not deploy.
	{name: "wrong event type", mutate: func(p string, r *request) {
		r.h.Set(eventHeader(p), map[string]string{GitHub: "issues", GitLab: "Tag Push Hook", Gitea: "pull_request"}[p])
	}, stage: "parse"},
	{name: "event type in other case", mutate: func(p string, r *request) { r.h.Set(eventHeader(p), strings.ToUpper(r.h.Get(eventHeader(p)))) }, stage: "parse"},
	{name: "missing event type", mutate: func(p string, r *request) { r.h.Del(eventHeader(p)) }, stage: "parse"},
	{name: "missing delivery ID", mutate: func(p string, r *request) { r.h.Del(deliveryHeader(p)) }, stage: "parse"},
	{name: "delivery ID with a newline", mutate: func(p string, r *request) { r.h[http.CanonicalHeaderKey(deliveryHeader(p))] = []string{"abc\ndef"} }, stage: "parse"},
	{name: "delivery ID of 201 characters", mutate: func(p string, r *request) { r.h.Set(deliveryHeader(p), strings.Repeat("a", 201)) }, stage: "parse"},
	{name: "malformed JSON", mutate: func(p string, r *request) { r.body = []byte(`{"ref": "refs/heads/main", "after": `); resign(p, r) }, stage: "parse"},
	{name: "JSON array body", mutate: func(p string, r *request) {
		r.body = []byte(`[` + string(pushBody(p, "refs/heads/main", testCommit)) + `]`)
		resign(p, r)
	}, stage: "parse"},
	{name: "no ref", mutate: func(p string, r *request) { r.body = []byte(`{"after":"` + testCommit + `"}`); resign(p, r) }, stage: "parse"},
	{name: "ref not a full ref", mutate: func(p string, r *request) { r.body = pushBody(p, "main", testCommit); resign(p, r) }, stage: "parse"},
	{name: "ref with NUL", mutate: func(p string, r *request) { r.body = pushBody(p, "refs/heads/main\x00evil", testCommit); resign(p, r) }, stage: "parse"},
	{name: "ref with newline", mutate: func(p string, r *request) { r.body = pushBody(p, "refs/heads/main\nevil", testCommit); resign(p, r) }, stage: "parse"},
	{name: "ref with dot-dot", mutate: func(p string, r *request) { r.body = pushBody(p, "refs/heads/../../main", testCommit); resign(p, r) }, stage: "parse"},
	{name: "branch that is an option", mutate: func(p string, r *request) {
		r.body = pushBody(p, "refs/heads/--upload-pack=touch /tmp/x", testCommit)
		resign(p, r)
	}, stage: "parse"},
	{name: "commit of 39 hex digits", mutate: func(p string, r *request) { r.body = pushBody(p, "refs/heads/main", testCommit[:39]); resign(p, r) }, stage: "parse"},
	{name: "commit in upper case", mutate: func(p string, r *request) {
		r.body = pushBody(p, "refs/heads/main", strings.ToUpper(testCommit))
		resign(p, r)
	}, stage: "parse"},
	{name: "commit that is an option", mutate: func(p string, r *request) {
		r.body = pushBody(p, "refs/heads/main", "--upload-pack=touch /tmp/x")
		resign(p, r)
	}, stage: "parse"},
	{name: "commit with a newline", mutate: func(p string, r *request) {
		r.body = pushBody(p, "refs/heads/main", testCommit[:39]+"\n")
		resign(p, r)
	}, stage: "parse"},
	{name: "commit of SHA-256 length", mutate: func(p string, r *request) {
		r.body = pushBody(p, "refs/heads/main", testCommit+testCommit[:24])
		resign(p, r)
	}, stage: "parse"},

	// Signed and well-formed, but nothing to deploy.
	{name: "a tag, not a branch", mutate: func(p string, r *request) { r.body = pushBody(p, "refs/tags/v1.0.0", testCommit); resign(p, r) }, stage: "ignored"},
	{name: "another branch", mutate: func(p string, r *request) { r.body = pushBody(p, "refs/heads/dev", testCommit); resign(p, r) }, stage: "ignored"},
	{name: "a deleted branch", mutate: func(p string, r *request) { r.body = pushBody(p, "refs/heads/main", zeroCommit); resign(p, r) }, stage: "ignored"},
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestNegativeMatrix: every case, for every provider it applies to, is
// stopped at the stage it names, and none deploys. Replay (the same
// delivery twice) is the handler's job, tested in web.
func TestNegativeMatrix(t *testing.T) {
	counts := map[string]int{}
	for _, p := range Providers() {
		// The unmutated request deploys, so every refusal below is the
		// mutation's doing.
		if got, err := outcome(p, signedRequest(p, pushBody(p, "refs/heads/main", testCommit), testSecret), "main"); got != "deploy" {
			t.Fatalf("%s: the valid request stops at %s: %v", p, got, err)
		}
		for _, tc := range negativeMatrix {
			if tc.providers != nil && !contains(tc.providers, p) {
				continue
			}
			counts[p]++
			t.Run(p+"/"+tc.name, func(t *testing.T) {
				r := signedRequest(p, pushBody(p, "refs/heads/main", testCommit), testSecret)
				tc.mutate(p, &r)
				got, err := outcome(p, r, "main")
				if got == "deploy" {
					t.Fatalf("DEPLOYED")
				}
				if got != tc.stage {
					t.Errorf("stopped at %s (%v), want %s", got, err, tc.stage)
				}
				switch got {
				case "verify":
					if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrUnknownProvider) {
						t.Errorf("verify error %v does not wrap ErrSignature", err)
					}
				case "parse":
					if !errors.Is(err, ErrPayload) && !errors.Is(err, ErrEvent) {
						t.Errorf("parse error %v wraps neither ErrPayload nor ErrEvent", err)
					}
				}
			})
		}
	}
	for _, p := range Providers() {
		if counts[p] < 20 {
			t.Errorf("%s: only %d negative cases, want at least 20", p, counts[p])
		}
		t.Logf("%s: %d negative cases, all refused", p, counts[p])
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// GitHub's documented test vector (docs.github.com, "Validating webhook
// deliveries").
func TestGitHubDocumentedVector(t *testing.T) {
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	if err := Verify(GitHub, h, []byte("Hello, World!"), "It's a Secret to Everybody"); err != nil {
		t.Fatalf("the documented vector is refused: %v", err)
	}
	if err := Verify(GitHub, h, []byte("Hello, World?"), "It's a Secret to Everybody"); err == nil {
		t.Fatal("a changed payload passes")
	}
	// The same digits in Gitea's header verify too: the same HMAC.
	g := http.Header{}
	g.Set("X-Gitea-Signature", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	if err := Verify(Gitea, g, []byte("Hello, World!"), "It's a Secret to Everybody"); err != nil {
		t.Fatalf("Gitea: %v", err)
	}
}

func TestParseValidPushes(t *testing.T) {
	wantURL := map[string]string{GitHub: "https://github.com/acme/web.git", GitLab: "https://gitlab.com/acme/web.git", Gitea: "https://gitea.example.com/acme/web.git"}
	for _, p := range Providers() {
		r := signedRequest(p, pushBody(p, "refs/heads/feature/x", testCommit), testSecret)
		if err := Verify(p, r.h, r.body, r.secret); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		ev, err := Parse(p, r.h, r.body)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		want := Event{Provider: p, DeliveryID: r.h.Get(deliveryHeader(p)), EventType: "push", Ref: "refs/heads/feature/x",
			Branch: "feature/x", Commit: testCommit, RepoURL: wantURL[p]}
		if ev != want {
			t.Errorf("%s: got %+v\nwant %+v", p, ev, want)
		}
	}
}

func TestParseSpecialEvents(t *testing.T) {
	// GitHub's ping, sent when the webhook is created.
	h := http.Header{}
	h.Set("X-GitHub-Event", "ping")
	h.Set("X-GitHub-Delivery", "d1")
	ev, err := Parse(GitHub, h, []byte(`{"zen":"Design for failure.","hook_id":1}`))
	if err != nil || !ev.Ping() || ev.DeliveryID != "d1" {
		t.Errorf("ping: %+v %v", ev, err)
	}
	// Only GitHub has a ping event.
	g := http.Header{}
	g.Set("X-Gitea-Event", "ping")
	g.Set("X-Gitea-Delivery", "d1")
	if _, err := Parse(Gitea, g, []byte(`{}`)); !errors.Is(err, ErrEvent) {
		t.Errorf("Gitea ping: %v", err)
	}
	// GitLab without X-Gitlab-Event-UUID falls back to Idempotency-Key.
	l := http.Header{}
	l.Set("X-Gitlab-Event", "Push Hook")
	l.Set("Idempotency-Key", "idem-1")
	ev, err = Parse(GitLab, l, pushBody(GitLab, "refs/heads/main", testCommit))
	if err != nil || ev.DeliveryID != "idem-1" {
		t.Errorf("Idempotency-Key: %+v %v", ev, err)
	}
	// A GitLab push whose checkout_sha disagrees with after.
	body := bytes.Replace(pushBody(GitLab, "refs/heads/main", testCommit), []byte(`"checkout_sha":"`+testCommit), []byte(`"checkout_sha":"`+strings.Repeat("a", 40)), 1)
	if _, err := Parse(GitLab, l, body); !errors.Is(err, ErrPayload) {
		t.Errorf("checkout_sha mismatch: %v", err)
	}
	// GitHub's deleted flag.
	d := pushBody(GitHub, "refs/heads/main", zeroCommit)
	ev, err = Parse(GitHub, signedRequest(GitHub, d, testSecret).h, d)
	if err != nil || !ev.Deleted || ev.Commit != "" {
		t.Errorf("deleted: %+v %v", ev, err)
	}
	// GitHub's other content type.
	f := signedRequest(GitHub, []byte("payload=%7B%7D"), testSecret)
	f.h.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := Parse(GitHub, f.h, f.body); !errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), "application/json") {
		t.Errorf("form-encoded: %v", err)
	}
	// An unknown provider.
	if _, err := Parse("bitbucket", h, []byte(`{}`)); !errors.Is(err, ErrUnknownProvider) {
		t.Errorf("unknown provider: %v", err)
	}
	if err := Verify("bitbucket", h, []byte(`{}`), testSecret); !errors.Is(err, ErrUnknownProvider) {
		t.Errorf("unknown provider: %v", err)
	}
}

// TestMaxBody: Verify takes a body of exactly MaxBody and refuses one byte
// more, however well signed.
func TestMaxBody(t *testing.T) {
	body := bytes.Repeat([]byte("a"), MaxBody)
	r := signedRequest(GitHub, body, testSecret)
	if err := Verify(GitHub, r.h, r.body, r.secret); err != nil {
		t.Fatalf("MaxBody bytes: %v", err)
	}
	body = append(body, 'a')
	r = signedRequest(GitHub, body, testSecret)
	if err := Verify(GitHub, r.h, r.body, r.secret); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("MaxBody+1 bytes: %v", err)
	}
}
