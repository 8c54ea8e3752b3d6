package web

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBadInput sends every kind of bad request to the running server and
// checks the status, the error code, the field named and, above all, that
// the store is exactly as it was: a refused request changes nothing.
func TestBadInput(t *testing.T) {
	e := newTestEnv(t, Config{Deployer: &fakeDeployer{}, AppsDomain: "apps.example.com"})
	// Something to collide with and to patch.
	e.must(http.StatusCreated, "POST", "/api/v1/networks", map[string]any{"name": "db"})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{
		"name": "web", "networks": []string{"db"}, "domains": []string{"www.example.com"},
		"env": map[string]string{"A": "1"}, "secrets": map[string]string{"S": "s"},
	})

	long := strings.Repeat("a", 64)
	big := `{"name":"big","env":{"A":"` + strings.Repeat("x", DefaultBodyLimit) + `"}}`

	cases := []struct {
		name, method, path string
		body               any
		token              string // "" means the valid one
		status             int
		code               string
		field              string
		// message, when set, must appear in the error message.
		message string
		// line, when set, is the line of the first problem (apprun.yaml).
		line int
	}{
		// Unknown fields, at any depth, including read-only ones sent back.
		{name: "unknown top-level field", method: "POST", path: "/api/v1/services", body: `{"name":"x","colour":"red"}`, status: 400, code: codeBadRequest, field: "colour"},
		{name: "unknown nested field", method: "POST", path: "/api/v1/services", body: `{"name":"x","scaling":{"maxConcurency":5}}`, status: 400, code: codeBadRequest, field: "scaling.maxConcurency"},
		{name: "unknown nested field in patch", method: "PATCH", path: "/api/v1/services/web", body: `{"healthCheck":{"intervall":3}}`, status: 400, code: codeBadRequest, field: "healthCheck.intervall"},
		{name: "read-only id", method: "POST", path: "/api/v1/services", body: `{"name":"x","id":"svc_1"}`, status: 400, code: codeBadRequest, field: "id"},
		{name: "read-only secretNames", method: "PATCH", path: "/api/v1/services/web", body: `{"secretNames":["X"]}`, status: 400, code: codeBadRequest, field: "secretNames"},
		{name: "read-only createdAt", method: "POST", path: "/api/v1/services", body: `{"name":"x","createdAt":"2020-01-01T00:00:00Z"}`, status: 400, code: codeBadRequest, field: "createdAt"},
		{name: "read-only url", method: "PATCH", path: "/api/v1/services/web", body: `{"url":"https://evil.example.com"}`, status: 400, code: codeBadRequest, field: "url"},
		{name: "unknown network field", method: "POST", path: "/api/v1/networks", body: `{"name":"x","driver":"overlay"}`, status: 400, code: codeBadRequest, field: "driver"},
		{name: "unknown token field", method: "POST", path: "/api/v1/tokens", body: `{"name":"x","admin":true}`, status: 400, code: codeBadRequest, field: "admin"},

		// Invalid names.
		{name: "uppercase name", method: "POST", path: "/api/v1/services", body: `{"name":"Web"}`, status: 422, code: codeInvalid, field: "name"},
		{name: "leading digit", method: "POST", path: "/api/v1/services", body: `{"name":"1web"}`, status: 422, code: codeInvalid, field: "name"},
		{name: "64 characters", method: "POST", path: "/api/v1/services", body: `{"name":"` + long + `"}`, status: 422, code: codeInvalid, field: "name"},
		{name: "dot dot", method: "POST", path: "/api/v1/services", body: `{"name":".."}`, status: 422, code: codeInvalid, field: "name"},
		{name: "empty name", method: "POST", path: "/api/v1/services", body: `{}`, status: 422, code: codeInvalid, field: "name"},
		{name: "trailing hyphen", method: "POST", path: "/api/v1/services", body: `{"name":"web-"}`, status: 422, code: codeInvalid, field: "name"},
		{name: "bad network name", method: "POST", path: "/api/v1/networks", body: `{"name":"My_Net"}`, status: 422, code: codeInvalid, field: "name"},
		{name: "rename in patch", method: "PATCH", path: "/api/v1/services/web", body: `{"name":"other"}`, status: 422, code: codeInvalid, field: "name", message: "cannot be changed"},

		// Path parameters that cannot name anything never reach the store.
		{name: "uppercase path name", method: "GET", path: "/api/v1/services/Web", status: 404, code: codeNotFound},
		{name: "dot-dot path name", method: "PATCH", path: "/api/v1/services/..", body: `{}`, status: 404, code: codeNotFound},
		{name: "64-char path name", method: "DELETE", path: "/api/v1/services/" + long, status: 404, code: codeNotFound},
		{name: "bad env key", method: "DELETE", path: "/api/v1/services/web/env/1A", status: 404, code: codeNotFound},
		{name: "bad network path", method: "DELETE", path: "/api/v1/networks/DB", status: 404, code: codeNotFound},
		{name: "missing service", method: "PATCH", path: "/api/v1/services/nope", body: `{"port":1}`, status: 404, code: codeNotFound},
		{name: "secret not set", method: "DELETE", path: "/api/v1/services/web/secrets/NOPE", status: 404, code: codeNotFound},
		{name: "env not set", method: "DELETE", path: "/api/v1/services/web/env/NOPE", status: 404, code: codeNotFound},
		{name: "missing token id", method: "DELETE", path: "/api/v1/tokens/tok_nope", status: 404, code: codeNotFound},

		// Values out of bounds.
		{name: "negative minInstances", method: "POST", path: "/api/v1/services", body: `{"name":"x","scaling":{"minInstances":-1}}`, status: 422, code: codeInvalid, field: "scaling.minInstances"},
		{name: "negative maxConcurrency", method: "PATCH", path: "/api/v1/services/web", body: `{"scaling":{"maxConcurrency":-5}}`, status: 422, code: codeInvalid, field: "scaling.maxConcurrency"},
		{name: "max below min", method: "POST", path: "/api/v1/services", body: `{"name":"x","scaling":{"minInstances":5,"maxInstances":2}}`, status: 422, code: codeInvalid, field: "scaling.maxInstances"},
		{name: "max below min by patch", method: "PATCH", path: "/api/v1/services/web", body: `{"scaling":{"minInstances":30}}`, status: 422, code: codeInvalid, field: "scaling.maxInstances"},
		{name: "unknown protocol", method: "POST", path: "/api/v1/services", body: `{"name":"x","healthCheck":{"protocol":"UDP"}}`, status: 422, code: codeInvalid, field: "healthCheck.protocol"},
		{name: "lowercase protocol", method: "PATCH", path: "/api/v1/services/web", body: `{"healthCheck":{"protocol":"http"}}`, status: 422, code: codeInvalid, field: "healthCheck.protocol"},
		{name: "interval 0", method: "POST", path: "/api/v1/services", body: `{"name":"x","healthCheck":{"interval":0}}`, status: 422, code: codeInvalid, field: "healthCheck.interval"},
		{name: "timeout 21", method: "POST", path: "/api/v1/services", body: `{"name":"x","healthCheck":{"timeout":21}}`, status: 422, code: codeInvalid, field: "healthCheck.timeout"},
		{name: "healthyThreshold 0", method: "PATCH", path: "/api/v1/services/web", body: `{"healthCheck":{"healthyThreshold":0}}`, status: 422, code: codeInvalid, field: "healthCheck.healthyThreshold"},
		{name: "unhealthyThreshold 99", method: "POST", path: "/api/v1/services", body: `{"name":"x","healthCheck":{"unhealthyThreshold":99}}`, status: 422, code: codeInvalid, field: "healthCheck.unhealthyThreshold"},
		{name: "health path without slash", method: "POST", path: "/api/v1/services", body: `{"name":"x","healthCheck":{"path":"health"}}`, status: 422, code: codeInvalid, field: "healthCheck.path"},
		{name: "port too big", method: "POST", path: "/api/v1/services", body: `{"name":"x","port":70000}`, status: 422, code: codeInvalid, field: "port"},
		{name: "tiny memory", method: "POST", path: "/api/v1/services", body: `{"name":"x","instanceSize":{"memoryMB":1}}`, status: 422, code: codeInvalid, field: "instanceSize.memoryMB"},
		{name: "bad domain", method: "POST", path: "/api/v1/services", body: `{"name":"x","domains":["localhost"]}`, status: 422, code: codeInvalid, field: "domains[0]"},
		{name: "credentials in repo", method: "POST", path: "/api/v1/services", body: `{"name":"x","source":{"repo":"https://u:p@git.example.com/r.git"}}`, status: 422, code: codeInvalid, field: "source.repo"},
		{name: "bad branch", method: "PATCH", path: "/api/v1/services/web", body: `{"source":{"branch":"-x"}}`, status: 422, code: codeInvalid, field: "source.branch"},
		{name: "bad env name", method: "POST", path: "/api/v1/services", body: `{"name":"x","env":{"BAD-NAME":"v"}}`, status: 422, code: codeInvalid, field: "env.BAD-NAME"},
		{name: "bad secret name", method: "POST", path: "/api/v1/services", body: `{"name":"x","secrets":{"1S":"v"}}`, status: 422, code: codeInvalid, field: "secrets.1S"},
		{name: "bad env name by PUT", method: "PUT", path: "/api/v1/services/web/env", body: `{"OK":"1","NOT OK":"2"}`, status: 422, code: codeInvalid, field: "env.NOT OK"},
		{name: "bad secret name by PUT", method: "PUT", path: "/api/v1/services/web/secrets", body: `{"a-b":"v"}`, status: 422, code: codeInvalid, field: "secrets.a-b"},
		{name: "bad secret name by PATCH", method: "PATCH", path: "/api/v1/services/web", body: `{"port":9000,"secrets":{"a-b":"v"}}`, status: 422, code: codeInvalid, field: "secrets.a-b"},
		{name: "empty token name", method: "POST", path: "/api/v1/tokens", body: `{"name":""}`, status: 422, code: codeInvalid, field: "name"},

		// Custom domains.
		{name: "domain unknown field", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"a.example.com","verifyToken":"x"}`, status: 400, code: codeBadRequest, field: "verifyToken"},
		{name: "domain name as number", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":5}`, status: 400, code: codeBadRequest, field: "name"},
		{name: "domain without body", method: "POST", path: "/api/v1/services/web/domains", status: 400, code: codeBadRequest},
		{name: "domain without name", method: "POST", path: "/api/v1/services/web/domains", body: `{}`, status: 422, code: codeInvalid, field: "name", message: "must not be empty"},
		{name: "domain uppercase", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"WWW.example.com"}`, status: 422, code: codeInvalid, field: "name", message: "lowercase"},
		{name: "domain one label", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"localhost"}`, status: 422, code: codeInvalid, field: "name"},
		{name: "domain an IP", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"10.0.0.1"}`, status: 422, code: codeInvalid, field: "name"},
		{name: "domain trailing dot", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"a.example.com."}`, status: 422, code: codeInvalid, field: "name"},
		{name: "domain under apps domain", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"api.apps.example.com"}`, status: 422, code: codeInvalid, field: "name", message: "apps domain"},
		{name: "domain is apps domain", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"apps.example.com"}`, status: 422, code: codeInvalid, field: "name", message: "apps domain"},
		{name: "apps domain in create", method: "POST", path: "/api/v1/services", body: `{"name":"x","domains":["ok.example.com","x.apps.example.com"]}`, status: 422, code: codeInvalid, field: "domains[1]", message: "apps domain"},
		{name: "apps domain in patch", method: "PATCH", path: "/api/v1/services/web", body: `{"domains":["web.apps.example.com"]}`, status: 422, code: codeInvalid, field: "domains[0]", message: "apps domain"},
		{name: "domain already attached", method: "POST", path: "/api/v1/services/web/domains", body: `{"name":"www.example.com"}`, status: 409, code: codeConflict, message: "already attached"},
		{name: "domain on missing service", method: "POST", path: "/api/v1/services/nope/domains", body: `{"name":"a.example.com"}`, status: 404, code: codeNotFound},
		{name: "domains of missing service", method: "GET", path: "/api/v1/services/nope/domains", status: 404, code: codeNotFound},
		{name: "remove unattached domain", method: "DELETE", path: "/api/v1/services/web/domains/a.example.com", status: 404, code: codeNotFound, message: `service "web" has no domain "a.example.com"`},
		{name: "remove domain of missing service", method: "DELETE", path: "/api/v1/services/nope/domains/www.example.com", status: 404, code: codeNotFound, message: `service "nope"`},
		{name: "remove bad domain path", method: "DELETE", path: "/api/v1/services/web/domains/WWW.EXAMPLE.COM", status: 404, code: codeNotFound},
		{name: "verify without a verifier", method: "POST", path: "/api/v1/services/web/domains/www.example.com/verify", status: 503, code: codeUnavailable},

		// Webhooks: the route takes no token, so these are refused on the
		// provider, the service and the signature (the service has no
		// webhook secret). hooks_test.go covers signed deliveries.
		{name: "hook unknown provider", method: "POST", path: "/api/v1/hooks/bitbucket/web", body: `{}`, status: 404, code: codeNotFound, message: "github, gitlab or gitea"},
		{name: "hook provider in upper case", method: "POST", path: "/api/v1/hooks/GitHub/web", body: `{}`, status: 404, code: codeNotFound},
		{name: "hook bad service name", method: "POST", path: "/api/v1/hooks/github/Web", body: `{}`, status: 404, code: codeNotFound},
		{name: "hook dot-dot service", method: "POST", path: "/api/v1/hooks/github/%2e%2e", body: `{}`, status: 404, code: codeNotFound},
		{name: "hook missing service", method: "POST", path: "/api/v1/hooks/gitlab/nope", body: `{}`, status: 404, code: codeNotFound},
		{name: "hook without a secret", method: "POST", path: "/api/v1/hooks/github/web", body: `{}`, token: noAuth, status: 401, code: codeUnauthorized, message: "no webhook secret configured for this service"},
		{name: "hook without a secret, with a token", method: "POST", path: "/api/v1/hooks/gitea/web", body: `{}`, status: 401, code: codeUnauthorized, message: "no webhook secret configured"},
		{name: "hook oversized body", method: "POST", path: "/api/v1/hooks/github/web", body: strings.Repeat("x", HookBodyLimit+1), token: noAuth, status: 413, code: codeTooLarge},
		{name: "hook oversized body, chunked", method: "POST", path: "/api/v1/hooks/gitlab/web", body: io.MultiReader(strings.NewReader(strings.Repeat("x", HookBodyLimit+1))), token: noAuth, status: 413, code: codeTooLarge},
		{name: "hook wrong method", method: "GET", path: "/api/v1/hooks/github/web", status: 405, code: codeMethodNotAllowed},
		{name: "webhook secret of missing service", method: "POST", path: "/api/v1/services/nope/webhook-secret", status: 404, code: codeNotFound},
		{name: "webhook secret bad name", method: "POST", path: "/api/v1/services/..%2f/webhook-secret", status: 404, code: codeNotFound},
		{name: "webhook secret unknown field", method: "POST", path: "/api/v1/services/web/webhook-secret", body: `{"secret":"mine"}`, status: 400, code: codeBadRequest, field: "secret"},
		{name: "webhook secret not an object", method: "POST", path: "/api/v1/services/web/webhook-secret", body: `"x"`, status: 400, code: codeBadRequest},
		{name: "webhook secret without a token", method: "POST", path: "/api/v1/services/web/webhook-secret", token: noAuth, status: 401, code: codeUnauthorized},

		// Bodies that are not what they should be.
		{name: "oversized body", method: "POST", path: "/api/v1/services", body: big, status: 413, code: codeTooLarge},
		{name: "oversized body, chunked", method: "PUT", path: "/api/v1/services/web/env", body: io.MultiReader(strings.NewReader(big)), status: 413, code: codeTooLarge},
		{name: "oversized apprun.yaml", method: "POST", path: "/api/v1/config/validate", body: "version: 1.0\n#" + strings.Repeat("x", DefaultBodyLimit), status: 413, code: codeTooLarge},
		{name: "malformed JSON", method: "POST", path: "/api/v1/services", body: `{"name" "x"}`, status: 400, code: codeBadRequest, message: "byte offset"},
		{name: "truncated JSON", method: "PATCH", path: "/api/v1/services/web", body: `{"port":`, status: 400, code: codeBadRequest},
		{name: "wrong type", method: "POST", path: "/api/v1/services", body: `{"name":"x","port":"8080"}`, status: 400, code: codeBadRequest, field: "port"},
		{name: "wrong nested type", method: "PATCH", path: "/api/v1/services/web", body: `{"scaling":{"maxInstances":"many"}}`, status: 400, code: codeBadRequest, field: "scaling.maxInstances"},
		{name: "object for a list", method: "POST", path: "/api/v1/services", body: `{"name":"x","networks":{"db":true}}`, status: 400, code: codeBadRequest, field: "networks"},
		{name: "fraction for an integer", method: "POST", path: "/api/v1/services", body: `{"name":"x","port":80.5}`, status: 400, code: codeBadRequest, field: "port"},
		{name: "number as name", method: "POST", path: "/api/v1/services", body: `{"name":5}`, status: 400, code: codeBadRequest, field: "name"},
		{name: "number in env map", method: "PUT", path: "/api/v1/services/web/env", body: `{"A":1}`, status: 400, code: codeBadRequest, field: "env.A"},
		{name: "null in secrets map", method: "PUT", path: "/api/v1/services/web/secrets", body: `{"A":null}`, status: 400, code: codeBadRequest, field: "secrets.A"},
		{name: "string for internal", method: "POST", path: "/api/v1/networks", body: `{"name":"x","internal":"yes"}`, status: 400, code: codeBadRequest, field: "internal"},
		{name: "trailing garbage", method: "POST", path: "/api/v1/services", body: `{"name":"x"} garbage`, status: 400, code: codeBadRequest},
		{name: "two objects", method: "PATCH", path: "/api/v1/services/web", body: `{"port":1}{"port":2}`, status: 400, code: codeBadRequest},
		{name: "trailing brace", method: "PUT", path: "/api/v1/services/web/env", body: `{"B":"2"}}`, status: 400, code: codeBadRequest},
		{name: "array body", method: "POST", path: "/api/v1/services", body: `[{"name":"x"}]`, status: 400, code: codeBadRequest},
		{name: "null body", method: "PATCH", path: "/api/v1/services/web", body: `null`, status: 400, code: codeBadRequest},
		{name: "empty body", method: "POST", path: "/api/v1/services", body: ``, status: 400, code: codeBadRequest},
		{name: "whitespace body", method: "PUT", path: "/api/v1/services/web/secrets", body: " \n\t", status: 400, code: codeBadRequest},
		{name: "no body", method: "POST", path: "/api/v1/networks", status: 400, code: codeBadRequest},
		{name: "empty apprun.yaml", method: "POST", path: "/api/v1/config/validate", body: ``, status: 400, code: codeBadRequest},

		// apprun.yaml: malformed and invalid files name the field and line.
		// A syntax error has no field to name (the parser cannot tell which
		// key the broken text belongs to), only its line.
		{name: "malformed YAML", method: "POST", path: "/api/v1/config/validate", body: "version: 1.0\nrun:\n  command: [unclosed\n", status: 422, code: codeInvalid, field: "", line: 3, message: "line 3"},
		{name: "tab-indented YAML", method: "POST", path: "/api/v1/config/validate", body: "version: 1.0\nbuild:\n\tcommands: x\n", status: 422, code: codeInvalid, field: "", line: 3},
		{name: "YAML wrong type", method: "POST", path: "/api/v1/config/validate", body: "version: 1.0\nrun:\n  network:\n    port: \"x\"\n", status: 422, code: codeInvalid, field: "run.network.port", line: 4},
		{name: "invalid apprun.yaml", method: "POST", path: "/api/v1/config/validate", body: yamlInvalid, status: 422, code: codeInvalid, field: "run.network.port", line: 6},
		{name: "unknown apprun.yaml key", method: "POST", path: "/api/v1/config/validate", body: "version: 1.0\nrun:\n  comand: ./server\n", status: 422, code: codeInvalid, field: "run.comand", line: 3},

		// Deployments, rollbacks, formation, logs and instances: refused
		// before the deployer is asked (the fake changes nothing anyway, so
		// the snapshot check covers only the store).
		{name: "deploy to missing service", method: "POST", path: "/api/v1/services/nope/deployments", body: []byte("archive"), status: 404, code: codeNotFound},
		{name: "deploy without a body", method: "POST", path: "/api/v1/services/web/deployments", status: 400, code: codeBadRequest},
		{name: "deploy with an empty body", method: "POST", path: "/api/v1/services/web/deployments", body: []byte{}, status: 400, code: codeBadRequest},
		{name: "deploy JSON instead of an archive", method: "POST", path: "/api/v1/services/web/deployments", body: `{"source":"."}`, status: 415, code: codeUnsupportedMedia, field: "Content-Type"},
		{name: "rollback on missing service", method: "POST", path: "/api/v1/services/nope/rollback", body: `{}`, status: 404, code: codeNotFound},
		{name: "rollback to unknown revision", method: "POST", path: "/api/v1/services/web/rollback", body: `{"revision":"rev_nope"}`, status: 404, code: codeNotFound, field: "revision"},
		{name: "rollback to a non-ID", method: "POST", path: "/api/v1/services/web/rollback", body: `{"revision":"../x"}`, status: 400, code: codeBadRequest, field: "revision"},
		{name: "rollback with nothing earlier", method: "POST", path: "/api/v1/services/web/rollback", body: `{}`, status: 409, code: codeConflict, field: "revision"},
		{name: "rollback unknown field", method: "POST", path: "/api/v1/services/web/rollback", body: `{"rev":"x"}`, status: 400, code: codeBadRequest, field: "rev"},
		{name: "rollback revision as number", method: "POST", path: "/api/v1/services/web/rollback", body: `{"revision":3}`, status: 400, code: codeBadRequest, field: "revision"},
		{name: "rollback without a body", method: "POST", path: "/api/v1/services/web/rollback", status: 400, code: codeBadRequest},
		{name: "formation on missing service", method: "PUT", path: "/api/v1/services/nope/formation", body: `{"web":1}`, status: 404, code: codeNotFound},
		{name: "formation over 100", method: "PUT", path: "/api/v1/services/web/formation", body: `{"web":101}`, status: 422, code: codeInvalid, field: "formation.web"},
		{name: "formation negative", method: "PUT", path: "/api/v1/services/web/formation", body: `{"worker":-1}`, status: 422, code: codeInvalid, field: "formation.worker"},
		{name: "formation bad process type", method: "PUT", path: "/api/v1/services/web/formation", body: `{"we b":1}`, status: 422, code: codeInvalid, field: "formation.we b"},
		{name: "formation count as string", method: "PUT", path: "/api/v1/services/web/formation", body: `{"web":"3"}`, status: 400, code: codeBadRequest, field: "formation.web"},
		{name: "formation fraction", method: "PUT", path: "/api/v1/services/web/formation", body: `{"web":1.5}`, status: 400, code: codeBadRequest, field: "formation.web"},
		{name: "formation null count", method: "PUT", path: "/api/v1/services/web/formation", body: `{"web":null}`, status: 400, code: codeBadRequest, field: "formation.web"},
		{name: "formation empty", method: "PUT", path: "/api/v1/services/web/formation", body: `{}`, status: 400, code: codeBadRequest},
		{name: "formation as array", method: "PUT", path: "/api/v1/services/web/formation", body: `["web=3"]`, status: 400, code: codeBadRequest},
		{name: "formation through PATCH", method: "PATCH", path: "/api/v1/services/web", body: `{"formation":{"web":3}}`, status: 400, code: codeBadRequest, field: "formation"},
		{name: "logs of missing service", method: "GET", path: "/api/v1/services/nope/logs", status: 404, code: codeNotFound},
		{name: "logs bad since", method: "GET", path: "/api/v1/services/web/logs?since=yesterday", status: 400, code: codeBadRequest, field: "since"},
		{name: "logs negative since", method: "GET", path: "/api/v1/services/web/logs?since=-5m", status: 400, code: codeBadRequest, field: "since"},
		{name: "logs bad tail", method: "GET", path: "/api/v1/services/web/logs?tail=ten", status: 400, code: codeBadRequest, field: "tail"},
		{name: "logs negative tail", method: "GET", path: "/api/v1/services/web/logs?tail=-1", status: 400, code: codeBadRequest, field: "tail"},
		{name: "logs huge tail", method: "GET", path: "/api/v1/services/web/logs?tail=100000000", status: 400, code: codeBadRequest, field: "tail"},
		{name: "logs bad follow", method: "GET", path: "/api/v1/services/web/logs?follow=please", status: 400, code: codeBadRequest, field: "follow"},
		{name: "logs bad process", method: "GET", path: "/api/v1/services/web/logs?process=a%20b", status: 400, code: codeBadRequest, field: "process"},
		{name: "logs bad revision", method: "GET", path: "/api/v1/services/web/logs?revision=..", status: 400, code: codeBadRequest, field: "revision"},
		{name: "instances of missing service", method: "GET", path: "/api/v1/services/nope/instances", status: 404, code: codeNotFound},
		{name: "instances bad name", method: "GET", path: "/api/v1/services/Web/instances", status: 404, code: codeNotFound},

		// Credentials.
		{name: "missing token", method: "POST", path: "/api/v1/services", body: `{"name":"x"}`, token: noAuth, status: 401, code: codeUnauthorized},
		{name: "wrong token", method: "PATCH", path: "/api/v1/services/web", body: `{"port":1}`, token: wrongToken, status: 401, code: codeUnauthorized},
		{name: "wrong token on delete", method: "DELETE", path: "/api/v1/services/web", token: wrongToken, status: 401, code: codeUnauthorized},
		{name: "missing token on deploy", method: "POST", path: "/api/v1/services/web/deployments", body: []byte("archive"), token: noAuth, status: 401, code: codeUnauthorized},
		{name: "wrong token on logs", method: "GET", path: "/api/v1/services/web/logs?follow=true", token: wrongToken, status: 401, code: codeUnauthorized},

		// Conflicts.
		{name: "duplicate service", method: "POST", path: "/api/v1/services", body: `{"name":"web"}`, status: 409, code: codeConflict, field: "name"},
		{name: "duplicate network", method: "POST", path: "/api/v1/networks", body: `{"name":"db"}`, status: 409, code: codeConflict, field: "name"},
		{name: "network in use", method: "DELETE", path: "/api/v1/networks/db", status: 409, code: codeConflict},

		// Routes that do not exist answer in the same shape.
		{name: "no such route", method: "GET", path: "/api/v1/nothing", status: 404, code: codeNotFound},
		{name: "wrong method", method: "PUT", path: "/api/v1/services", body: `{}`, status: 405, code: codeMethodNotAllowed},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			before := e.snapshot()
			var res response
			if tc.token == "" {
				res = e.do(tc.method, tc.path, tc.body)
			} else {
				res = e.do(tc.method, tc.path, tc.body, tc.token)
			}
			if res.status != tc.status {
				t.Errorf("status %d, want %d: %s", res.status, tc.status, res.body)
			}
			got := res.errBody(t)
			if got.Code != tc.code {
				t.Errorf("code %q, want %q: %s", got.Code, tc.code, res.body)
			}
			if got.Field != tc.field {
				t.Errorf("field %q, want %q: %s", got.Field, tc.field, res.body)
			}
			if tc.message != "" && !strings.Contains(got.Message, tc.message) {
				t.Errorf("message %q does not contain %q", got.Message, tc.message)
			}
			if tc.status == http.StatusUnprocessableEntity {
				if len(got.Problems) == 0 || got.Problems[0].Field != got.Field {
					t.Errorf("422 without problems naming the field: %s", res.body)
				} else if got.Problems[0].Line != tc.line {
					t.Errorf("line %d, want %d: %s", got.Problems[0].Line, tc.line, res.body)
				}
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("the store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestValidateReportsEveryProblem checks that one request returns all the
// problems of a file, each with its line, so a user fixes it in one pass.
func TestValidateReportsEveryProblem(t *testing.T) {
	e := newTestEnv(t, Config{})
	res := e.do("POST", "/api/v1/config/validate", yamlManyProblems)
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	got := res.errBody(t)
	if len(got.Problems) < 2 {
		t.Fatalf("want several problems, got %s", res.body)
	}
	for _, p := range got.Problems {
		if p.Line == 0 || p.Field == "" {
			t.Errorf("problem without line or field: %+v", p)
		}
	}

	var cfg map[string]any
	e.must(http.StatusOK, "POST", "/api/v1/config/validate", yamlValid).decode(t, &cfg)
	if cfg["version"] != "1.0" {
		t.Errorf("parsed config = %v", cfg)
	}
	// Any content type is accepted: the body is the file.
	req, err := http.NewRequest("POST", e.ts.URL+"/api/v1/config/validate", bytes.NewReader([]byte(yamlValid)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/yaml")
	if r := e.send(req); r.status != http.StatusOK {
		t.Errorf("application/yaml: status %d: %s", r.status, r.body)
	}
}

const (
	yamlValid = `version: 1.0
runtime: go1
build:
  commands:
    build: go build -o server .
run:
  command: ./server
  network:
    port: 8080
`
	yamlInvalid = `version: 1.0
runtime: go1
run:
  command: ./server
  network:
    port: 70000
`
	yamlManyProblems = `version: 2.0
run:
  env:
    - name: 1BAD
      value: x
  network:
    port: 70000
`
)
