package web

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apprun/apprun/spec"
)

// openAPIOperation is the part of an operation the tests check.
type openAPIOperation struct {
	OperationID string            `json:"operationId"`
	Security    *[]map[string]any `json:"security"`
	Parameters  []map[string]any  `json:"parameters"`
	Responses   map[string]any    `json:"responses"`
	RequestBody map[string]any    `json:"requestBody"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI parses the embedded document into "METHOD /path" → operation,
// plus the path-level parameters.
func loadOpenAPI(t *testing.T) (map[string]openAPIOperation, map[string][]map[string]any, map[string]any) {
	t.Helper()
	var doc struct {
		OpenAPI  string                                `json:"openapi"`
		Paths    map[string]map[string]json.RawMessage `json:"paths"`
		Security []map[string]any                      `json:"security"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("global security = %v, want bearer", doc.Security)
	}
	ops := map[string]openAPIOperation{}
	pathParams := map[string][]map[string]any{}
	for path, item := range doc.Paths {
		for key, raw := range item {
			if key == "parameters" {
				var ps []map[string]any
				if err := json.Unmarshal(raw, &ps); err != nil {
					t.Fatalf("%s parameters: %v", path, err)
				}
				pathParams[path] = ps
				continue
			}
			if !slices.Contains(httpMethods, key) {
				t.Errorf("%s: unexpected key %q", path, key)
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	var whole map[string]any
	if err := json.Unmarshal(openAPIDoc, &whole); err != nil {
		t.Fatal(err)
	}
	return ops, pathParams, whole
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestOpenAPIMatchesRoutes holds the document and the route table to each
// other in both directions, and checks that the document's public/secured
// split is the auth middleware's.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newTestEnv(t, Config{})
	ops, pathParams, whole := loadOpenAPI(t)

	routes := map[string]bool{}
	for _, r := range e.srv.Routes() {
		key := r.Method + " " + echoParam.ReplaceAllString(r.Path, "{$1}")
		routes[key] = true
		op, ok := ops[key]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", r.Method, r.Path)
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != e.srv.IsPublic(r.Method, r.Path) {
			t.Errorf("%s: openapi says public=%v, the auth middleware says %v", key, public, e.srv.IsPublic(r.Method, r.Path))
		}
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", key)
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s: no responses", key)
		}
		if !public && op.Responses["401"] == nil {
			t.Errorf("%s: secured but documents no 401", key)
		}
		if (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) && op.RequestBody == nil {
			t.Errorf("%s: no requestBody", key)
		}
		// Every {param} in the path is declared, at path or operation level.
		_, path, _ := strings.Cut(key, " ")
		declared := map[string]bool{}
		for _, p := range append(slices.Clone(pathParams[path]), op.Parameters...) {
			declared[paramName(t, whole, p)] = true
		}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q is not declared", key, m[1])
			}
		}
	}
	for key := range ops {
		if !routes[key] {
			t.Errorf("openapi.json documents %s, which has no route", key)
		}
	}
}

// paramName resolves a parameter object (or its $ref) to its name.
func paramName(t *testing.T, whole map[string]any, p map[string]any) string {
	t.Helper()
	if ref, ok := p["$ref"].(string); ok {
		target, ok := resolveRef(whole, ref).(map[string]any)
		if !ok {
			t.Errorf("unresolvable parameter %s", ref)
			return ""
		}
		p = target
	}
	name, _ := p["name"].(string)
	return name
}

func resolveRef(whole map[string]any, ref string) any {
	var cur any = whole
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// TestOpenAPIRefsResolve catches a $ref to a component that does not exist,
// which code generators choke on, and checks the components the API
// promises.
func TestOpenAPIRefsResolve(t *testing.T) {
	_, _, whole := loadOpenAPI(t)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && resolveRef(whole, ref) == nil {
				t.Errorf("$ref %s does not resolve", ref)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(whole)
	for _, name := range []string{"Service", "Scaling", "HealthCheck", "InstanceSize", "Source", "Deployment", "Revision", "Network", "Domain", "Token", "Error", "Formation", "InstanceList"} {
		if resolveRef(whole, "#/components/schemas/"+name) == nil {
			t.Errorf("components.schemas.%s is missing", name)
		}
	}
	if resolveRef(whole, "#/components/securitySchemes/bearer") == nil {
		t.Error("no bearer security scheme")
	}
}

// TestOpenAPIServed checks the document is public and served byte for byte.
func TestOpenAPIServed(t *testing.T) {
	e := newTestEnv(t, Config{})
	res := e.do("GET", "/api/v1/openapi.json", nil, noAuth)
	if res.status != http.StatusOK || string(res.body) != string(openAPIDoc) {
		t.Fatalf("status %d, %d bytes", res.status, len(res.body))
	}
}

// TestOpenAPISchemasMatchTypes compares the documented properties of each
// schema with the JSON fields of the Go type it describes, so a field added
// to spec (or to an input type) without documenting it fails here.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	_, _, whole := loadOpenAPI(t)
	for schema, v := range map[string]any{
		"Service":            serviceResponse{},
		"ServiceCreate":      serviceInput{},
		"ServicePatch":       serviceInput{},
		"Scaling":            spec.Scaling{},
		"HealthCheck":        spec.HealthCheck{},
		"InstanceSize":       spec.InstanceSize{},
		"Source":             spec.Source{},
		"Deployment":         spec.Deployment{},
		"Revision":           spec.Revision{},
		"Network":            spec.Network{},
		"NetworkCreate":      networkInput{},
		"Domain":             domainResponse{},
		"DomainCreate":       domainInput{},
		"DomainInstructions": domainInstructions{},
		"Token":              spec.Token{},
		"TokenCreate":        tokenInput{},
		"SSHKey":             spec.SSHKey{},
		"KeyCreate":          keyInput{},
		"BuildResult":        BuildResult{},
		"BuildEvent":         buildEvent{},
		"DeployEvent":        deployEvent{},
		"RollbackRequest":    rollbackInput{},
		"LogLine":            LogLine{},
		"LogEvent":           logsEvent{},
		"InstanceStatus":     InstanceStatus{},
		"WebhookSecret":      webhookSecret{},
		"HookResult":         hookResult{},
	} {
		s, _ := resolveRef(whole, "#/components/schemas/"+schema).(map[string]any)
		props, _ := s["properties"].(map[string]any)
		var documented []string
		for k := range props {
			documented = append(documented, k)
		}
		slices.Sort(documented)
		fields := jsonFields(reflect.TypeOf(v))
		if !slices.Equal(documented, fields) {
			t.Errorf("schema %s documents %v; the Go type has %v", schema, documented, fields)
		}
	}
}

// jsonFields lists the JSON names of a struct's fields, embedded ones
// included, sorted.
func jsonFields(t reflect.Type) []string {
	var out []string
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
