package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestEveryRouteNeedsToken walks echo's route table, so a route added later
// is covered without anyone remembering to add it here.
func TestEveryRouteNeedsToken(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	before := e.snapshot()

	params := map[string]string{"name": "web", "key": "KEY", "id": "some-id"}
	var secured, signed int
	for _, r := range e.srv.Routes() {
		path := concretePath(r.Path, params)
		if e.srv.IsSigned(r.Method, r.Path) {
			// The signature is the credential: the service has no webhook
			// secret, so nothing (no token, a token, any signature) gets in.
			signed++
			path = concretePath(r.Path, map[string]string{"name": "web", "provider": "github"})
			for what, h := range map[string][2]string{
				"nothing":           {},
				"a bearer token":    {"Authorization", "Bearer " + e.token},
				"a signature":       {"X-Hub-Signature-256", "sha256=" + strings.Repeat("0", 64)},
				"a GitLab token":    {"X-Gitlab-Token", "x"},
				"a Gitea signature": {"X-Gitea-Signature", strings.Repeat("0", 64)},
			} {
				req, err := http.NewRequest(r.Method, e.ts.URL+path, strings.NewReader(`{"ref":"refs/heads/main"}`))
				if err != nil {
					t.Fatal(err)
				}
				if h[0] != "" {
					req.Header.Set(h[0], h[1])
				}
				req.Header.Set("X-GitHub-Event", "push")
				if res := e.send(req); res.status != http.StatusUnauthorized {
					t.Errorf("%s %s with %s: status %d, want 401: %s", r.Method, r.Path, what, res.status, res.body)
				}
			}
			continue
		}
		if e.srv.IsPublic(r.Method, r.Path) {
			res := e.do(r.Method, path, nil, noAuth)
			if res.status == http.StatusUnauthorized {
				t.Errorf("public route %s %s answered 401 without a token", r.Method, r.Path)
			}
			continue
		}
		secured++
		headers := map[string]string{
			"no header":       "",
			"wrong token":     "Bearer " + wrongToken,
			"wrong scheme":    "Basic " + e.token,
			"scheme only":     "Bearer",
			"empty token":     "Bearer ",
			"two words":       "Bearer " + e.token + " extra",
			"token w/o space": "Bearer" + e.token,
		}
		for what, h := range headers {
			req, err := http.NewRequest(r.Method, e.ts.URL+path, strings.NewReader(`{"name":"web"}`))
			if err != nil {
				t.Fatal(err)
			}
			if h != "" {
				req.Header.Set("Authorization", h)
			}
			res := e.send(req)
			if res.status != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: status %d, want 401: %s", r.Method, r.Path, what, res.status, res.body)
				continue
			}
			if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("%s %s with %s: WWW-Authenticate = %q, want a Bearer challenge", r.Method, r.Path, what, got)
			}
			if code := res.errBody(t).Code; code != codeUnauthorized {
				t.Errorf("%s %s with %s: code %q, want %q", r.Method, r.Path, what, code, codeUnauthorized)
			}
		}
	}
	if signed == 0 {
		t.Error("no signature-protected route found; is the webhook route registered?")
	}
	if secured < 20 {
		t.Errorf("only %d secured routes found; is the route table empty?", secured)
	}
	if after := e.snapshot(); after != before {
		t.Errorf("unauthenticated requests changed the store:\nbefore %s\nafter %s", before, after)
	}
	if strings.Contains(e.logs.String(), e.token) {
		t.Error("the log contains the bearer token")
	}
}

func TestWhoami(t *testing.T) {
	e := newTestEnv(t, Config{})
	var who struct{ ID, Name string }
	e.must(http.StatusOK, "GET", "/api/v1/whoami", nil).decode(t, &who)
	if who.Name != "test" || who.ID == "" {
		t.Errorf("whoami = %+v, want the test token", who)
	}

	// A token made through the API works, is listed without its plain
	// text, and stops working once deleted.
	var created struct {
		ID, Name, Token string
	}
	e.must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]string{"name": "ci"}).decode(t, &created)
	if created.Token == "" || created.Name != "ci" {
		t.Fatalf("created token = %+v", created)
	}
	res := e.do("GET", "/api/v1/whoami", nil, created.Token)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"ci"`) {
		t.Fatalf("whoami with the new token: %d %s", res.status, res.body)
	}
	list := e.must(http.StatusOK, "GET", "/api/v1/tokens", nil)
	if strings.Contains(string(list.body), created.Token) {
		t.Error("the token list shows a plain token")
	}
	e.must(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+created.ID, nil)
	if res := e.do("GET", "/api/v1/whoami", nil, created.Token); res.status != http.StatusUnauthorized {
		t.Errorf("deleted token: status %d, want 401", res.status)
	}
	e.must(http.StatusNotFound, "DELETE", "/api/v1/tokens/"+created.ID, nil)
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc":         "abc",
		"bearer abc":         "abc",
		"BEARER a.b-c_d~+/=": "a.b-c_d~+/=",
		"Bearer  abc":        "abc",
		"Bearer":             "",
		"Bearer ":            "",
		"Basic abc":          "",
		"Bearer a b":         "",
		"Bearer a\tb":        "",
		"Bearer é":           "",
		"":                   "",
	} {
		got, ok := bearerToken(h)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
}
