package web

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// canary is a secret value that must never be seen again once sent.
const canary = "CANARY-5f0b7c1e-never-echo-me"

// TestSecretsAreWriteOnly sets secrets through every route that takes them,
// then calls every route in the table (mutating ones last) and checks that
// the canary appears in no response body, no error and no log line.
func TestSecretsAreWriteOnly(t *testing.T) {
	e := newTestEnv(t, Config{Builder: &fakeBuilder{}, Deployer: &fakeDeployer{}, Traefik: fakeTraefik{}, DomainVerifier: &fakeVerifier{}, Certificates: fakeCerts{}, ServiceURL: func(n string) string { return "https://" + n + ".apps.test" }})
	e.must(http.StatusCreated, "POST", "/api/v1/networks", map[string]any{"name": "db"})

	var bodies []string
	check := func(what string, r response) {
		t.Helper()
		bodies = append(bodies, string(r.body))
		if strings.Contains(string(r.body), canary) {
			t.Errorf("%s: the response contains the secret value: %s", what, r.body)
		}
		for k, vs := range r.header {
			for _, v := range vs {
				if strings.Contains(v, canary) {
					t.Errorf("%s: header %s contains the secret value", what, k)
				}
			}
		}
	}
	// Every way in, including refused requests that carry the value.
	check("create", e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{
		"name": "web", "networks": []string{"db"}, "domains": []string{"www.example.com"},
		"secrets": map[string]string{"DB_PASSWORD": canary},
	}))
	check("patch", e.must(http.StatusOK, "PATCH", "/api/v1/services/web", map[string]any{"secrets": map[string]string{"PATCHED": canary}}))
	check("put", e.must(http.StatusOK, "PUT", "/api/v1/services/web/secrets", map[string]string{"PUT": canary}))
	check("invalid create", e.do("POST", "/api/v1/services", map[string]any{"name": "Bad", "secrets": map[string]string{"bad name": canary}}))
	check("wrong type", e.do("PUT", "/api/v1/services/web/secrets", `{"A":"`+canary+`","B":1}`))
	check("unknown field", e.do("POST", "/api/v1/services", `{"name":"x","secrets":{"A":"`+canary+`"},"colour":1}`))
	check("malformed", e.do("PUT", "/api/v1/services/web/secrets", `{"A":"`+canary+`"`))
	check("trailing", e.do("PUT", "/api/v1/services/web/secrets", `{"A":"`+canary+`"} "`+canary+`"`))
	check("duplicate", e.do("POST", "/api/v1/services", map[string]any{"name": "web", "secrets": map[string]string{"A": canary}}))
	seedDeployment(t, e, "web")

	secrets, err := e.st.ServiceSecrets(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if secrets["DB_PASSWORD"] != canary || secrets["PATCHED"] != canary || secrets["PUT"] != canary {
		t.Fatalf("the secrets were not all stored: %v", slices.Sorted(maps.Keys(secrets)))
	}
	ds, err := e.st.ListDeployments(t.Context(), "web")
	if err != nil || len(ds) == 0 {
		t.Fatalf("deployments: %v %v", ds, err)
	}
	revs, err := e.st.ListRevisions(t.Context(), "web")
	if err != nil || len(revs) == 0 {
		t.Fatalf("revisions: %v %v", revs, err)
	}

	// Reads first, then writes, then deletes (the service's own last), so
	// every request finds the secrets still set.
	routes := e.srv.Routes()
	rank := func(r *echo.Route) int {
		switch {
		case r.Method == "GET":
			return 0
		case r.Method != "DELETE":
			return 1
		case r.Path == "/api/v1/services/:name":
			return 3
		}
		return 2
	}
	slices.SortStableFunc(routes, func(a, b *echo.Route) int { return rank(a) - rank(b) })
	bodyFor := map[string]string{
		"POST /api/v1/services":                   `{"name":"other","secrets":{"X":"` + canary + `"}}`,
		"PATCH /api/v1/services/:name":            `{"port":8081,"secrets":{"Y":"` + canary + `"}}`,
		"PUT /api/v1/services/:name/secrets":      `{"Z":"` + canary + `"}`,
		"PUT /api/v1/services/:name/env":          `{"E":"plain"}`,
		"POST /api/v1/networks":                   `{"name":"cache"}`,
		"POST /api/v1/tokens":                     `{"name":"ci"}`,
		"POST /api/v1/config/validate":            "version: 1.0\nruntime: go1\n",
		"DELETE /api/v1/networks/:name":           "",
		"POST /api/v1/builds":                     "archive",
		"POST /api/v1/services/:name/deployments": "archive",
		"POST /api/v1/services/:name/rollback":    `{"revision":"` + revs[0].ID + `"}`,
		"PUT /api/v1/services/:name/formation":    `{"web":2}`,
		"DELETE /api/v1/services/:name/env/:key":  "",
		"POST /api/v1/services/:name/domains":     `{"name":"shop.example.com"}`,
	}
	for _, r := range routes {
		params := map[string]string{"name": "web", "key": "PUT", "id": ds[0].ID, "domain": "www.example.com"}
		query := ""
		if r.Path == "/api/v1/builds" {
			query = "?service=web"
		}
		switch {
		case strings.HasPrefix(r.Path, "/api/v1/networks/"):
			params["name"] = "cache"
		case strings.Contains(r.Path, "/env/"):
			params["key"] = "E"
		case strings.Contains(r.Path, "/revisions/"):
			params["id"] = revs[0].ID
		case strings.HasPrefix(r.Path, "/api/v1/tokens/"):
			params["id"] = "tok_none"
		}
		var body any
		if b, ok := bodyFor[r.Method+" "+r.Path]; ok && b != "" {
			body = b
			if e.srv.archiveRoutes[r.Path] {
				body = []byte(b)
			}
		}
		path := concretePath(r.Path, params) + query
		res := e.do(r.Method, path, body)
		if res.status >= 500 {
			t.Errorf("%s %s: %d %s", r.Method, path, res.status, res.body)
		}
		check(r.Method+" "+path, res)
	}
	if len(bodies) < 30 {
		t.Errorf("only %d responses checked", len(bodies))
	}
	if strings.Contains(e.logs.String(), canary) {
		t.Error("the log contains the secret value")
	}
}
