package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGoldenResponses pins the exact JSON of a few responses, so a change
// to the wire format (a renamed field, an omitempty) is a visible diff in
// review rather than a surprise for clients. IDs and timestamps are removed
// first: they differ on every run.
func TestGoldenResponses(t *testing.T) {
	e := newTestEnv(t, Config{ServiceURL: func(n string) string { return "https://" + n + ".apps.example.com" }})
	e.must(http.StatusCreated, "POST", "/api/v1/networks", map[string]any{"name": "db"})
	e.must(http.StatusCreated, "POST", "/api/v1/services", fullService())

	cases := []struct {
		file string
		res  response
	}{
		{"service.json", e.must(http.StatusOK, "GET", "/api/v1/services/shop", nil)},
		{"service_defaults.json", e.must(http.StatusCreated, "POST", "/api/v1/services", `{"name":"tiny"}`)},
		{"error_invalid.json", e.do("POST", "/api/v1/services", `{"name":"Bad","scaling":{"minInstances":5,"maxInstances":2},"healthCheck":{"protocol":"UDP","interval":0}}`)},
		{"error_unknown_field.json", e.do("PATCH", "/api/v1/services/shop", `{"scaling":{"maxConcurency":5}}`)},
		{"error_type.json", e.do("POST", "/api/v1/services", `{"name":"x","healthCheck":{"timeout":"2s"}}`)},
		{"secrets.json", e.must(http.StatusOK, "GET", "/api/v1/services/shop/secrets", nil)},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got := scrub(t, tc.res.body)
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (run go test -run TestGoldenResponses -update if the change is intended)\n got: %s\nwant: %s", path, got, want)
			}
		})
	}
}

// volatile are fields that differ on every run.
var volatile = map[string]bool{"id": true, "createdAt": true, "updatedAt": true, "serviceId": true, "lastUsedAt": true}

// scrub removes volatile fields at any depth and re-indents.
func scrub(t *testing.T, body []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if volatile[k] {
					delete(v, k)
					continue
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(v)
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}
