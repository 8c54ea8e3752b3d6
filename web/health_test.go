package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestProbes(t *testing.T) {
	e := newTestEnv(t, Config{Version: "v1.2.3"})
	res := e.do("GET", "/healthz", nil, noAuth)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), "v1.2.3") {
		t.Errorf("healthz: %d %s", res.status, res.body)
	}
	e.must(http.StatusOK, "GET", "/readyz", nil)

	// With the store gone, the process is alive but not ready.
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	if res := e.do("GET", "/healthz", nil, noAuth); res.status != http.StatusOK {
		t.Errorf("healthz with the store closed: %d", res.status)
	}
	res = e.do("GET", "/readyz", nil, noAuth)
	if res.status != http.StatusServiceUnavailable || res.errBody(t).Code != codeUnavailable {
		t.Errorf("readyz with the store closed: %d %s", res.status, res.body)
	}
	// A store failure behind a secured route is a 500 with a generic
	// message, not a 401 and not the driver's words.
	res = e.do("GET", "/api/v1/services", nil)
	if res.status != http.StatusInternalServerError {
		t.Fatalf("services with the store closed: %d %s", res.status, res.body)
	}
	if got := res.errBody(t); got.Code != codeInternal || strings.Contains(got.Message, "sql") {
		t.Errorf("internal error body: %s", res.body)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newTestEnv(t, Config{Registry: reg})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	e.must(http.StatusOK, "GET", "/api/v1/services/web", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/services/nope", nil)
	e.do("GET", "/no/such/path/"+strings.Repeat("x", 10), nil)

	res := e.do("GET", "/metrics", nil, noAuth)
	if res.status != http.StatusOK {
		t.Fatalf("metrics: %d", res.status)
	}
	body := string(res.body)
	for _, want := range []string{
		`apprun_http_requests_total{method="POST",route="/api/v1/services",status="201"} 1`,
		`apprun_http_requests_total{method="GET",route="/api/v1/services/:name",status="200"} 1`,
		`apprun_http_requests_total{method="GET",route="/api/v1/services/:name",status="404"} 1`,
		`apprun_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`apprun_http_request_duration_seconds_bucket{method="POST",route="/api/v1/services",status="201",le="+Inf"} 1`,
		`go_goroutines `,
		`process_`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/no/such/path") {
		t.Error("an unmatched path became a label value")
	}

	// A second server on the same registry shares the collectors instead
	// of failing to register them.
	if _, err := New(Config{Registry: reg}, e.st, nil); err != nil {
		t.Errorf("second server on one registry: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		ok   bool
		desc string
	}{
		{Config{}, false, "zero config before SetDefaults has no registry"},
		{Config{BodyLimit: -1, Registry: prometheus.NewRegistry()}, false, "negative limit"},
		{Config{BodyLimit: 10, Registry: prometheus.NewRegistry()}, true, "explicit"},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v", c.desc, err)
		}
	}
	var c Config
	c.SetDefaults()
	if c.BodyLimit != DefaultBodyLimit || c.Registry == nil || c.Validate() != nil {
		t.Errorf("defaults: %+v", c)
	}
}
