package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fakeBuilder is the hand-written stand-in for the real builder (which needs
// a Docker engine and is tested in package builder): it reads the archive,
// logs a few lines and answers what the test asks.
type fakeBuilder struct {
	got     BuildRequest
	archive []byte
	fail    error
}

func (f *fakeBuilder) BuildArchive(ctx context.Context, req BuildRequest, archive io.Reader, log io.Writer) (BuildResult, error) {
	f.got = req
	// Like the real builder, log before reading the upload: the stream
	// must not cut the request body off.
	fmt.Fprintln(log, "-----> Receiving source")
	if flusher, ok := log.(interface{ flushNow() }); ok {
		flusher.flushNow()
	}
	data, err := io.ReadAll(archive)
	if err != nil {
		return BuildResult{}, err
	}
	f.archive = data
	fmt.Fprintf(log, "-----> Building\nstep one\r\n")
	fmt.Fprint(log, "partial ")
	fmt.Fprint(log, "line\nno newline at the end")
	if f.fail != nil {
		return BuildResult{}, f.fail
	}
	return BuildResult{Image: "apprun/build-x:latest", Digest: "sha256:abc", Kind: "buildpacks", Seconds: 1.5}, nil
}

func readEvents(t *testing.T, body string) []buildEvent {
	t.Helper()
	var evs []buildEvent
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var ev buildEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("stream line %q is not JSON: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestBuildStreamsLogThenResult(t *testing.T) {
	fb := &fakeBuilder{}
	e := newTestEnv(t, Config{Builder: fb})
	e.do("POST", "/api/v1/services", `{"name":"web"}`)

	res := e.do("POST", "/api/v1/builds?service=web", []byte("archive-bytes"))
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q: %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	evs := readEvents(t, string(res.body))
	var logs []string
	for _, ev := range evs[:len(evs)-1] {
		if ev.Log == nil {
			t.Fatalf("event before the last is not a log line: %+v", ev)
		}
		logs = append(logs, *ev.Log)
	}
	want := []string{"-----> Receiving source", "-----> Building", "step one", "partial line", "no newline at the end"}
	if strings.Join(logs, "|") != strings.Join(want, "|") {
		t.Errorf("log lines %q, want %q", logs, want)
	}
	last := evs[len(evs)-1]
	if last.Result == nil || last.Result.Image != "apprun/build-x:latest" {
		t.Fatalf("last event %+v, want the result", last)
	}
	if fb.got.Service == nil || fb.got.Service.Name != "web" || string(fb.archive) != "archive-bytes" {
		t.Errorf("builder got %+v / %q", fb.got, fb.archive)
	}
}

func TestBuildFailureEndsTheStreamWithAnError(t *testing.T) {
	e := newTestEnv(t, Config{Builder: &fakeBuilder{fail: errors.New("build command exited 3")}})
	res := e.do("POST", "/api/v1/builds?name=scratch", []byte("x"))
	evs := readEvents(t, string(res.body))
	last := evs[len(evs)-1]
	if last.Error == nil || last.Error.Code != "build_failed" || !strings.Contains(last.Error.Message, "exited 3") {
		t.Fatalf("last event %+v, want a build_failed error", last)
	}
}

func TestBuildBadRequests(t *testing.T) {
	e := newTestEnv(t, Config{Builder: &fakeBuilder{}, ArchiveLimit: 16})
	for _, tc := range []struct {
		path   string
		body   any
		status int
		field  string
	}{
		{"/api/v1/builds", []byte("x"), 400, "service"},
		{"/api/v1/builds?service=web&name=x", []byte("x"), 400, "name"},
		{"/api/v1/builds?service=Web", []byte("x"), 400, "service"},
		{"/api/v1/builds?name=..", []byte("x"), 400, "name"},
		{"/api/v1/builds?service=missing", []byte("x"), 404, ""},
		{"/api/v1/builds?name=ok", nil, 400, ""},
		{"/api/v1/builds?name=ok", bytes.Repeat([]byte("x"), 17), 413, ""},
	} {
		res := e.do("POST", tc.path, tc.body)
		if res.status != tc.status || !strings.Contains(string(res.body), `"field":"`+tc.field) && tc.field != "" {
			t.Errorf("POST %s: %d %s, want %d naming %q", tc.path, res.status, res.body, tc.status, tc.field)
		}
	}
	noBuilder := newTestEnv(t, Config{})
	if res := noBuilder.do("POST", "/api/v1/builds?name=x", []byte("x")); res.status != http.StatusServiceUnavailable {
		t.Errorf("without a builder: %d %s", res.status, res.body)
	}
}

// fakeTraefik stands in for the router's export (tested in
// router/traefikcfg against traefik's own types).
type fakeTraefik struct{}

func (fakeTraefik) TraefikConfig() ([]byte, error) { return []byte(`{"http":{"routers":{}}}`), nil }

func TestTraefikConfig(t *testing.T) {
	e := newTestEnv(t, Config{Traefik: fakeTraefik{}})
	res := e.do("GET", "/api/v1/traefik/config", nil)
	if res.status != http.StatusOK || string(res.body) != `{"http":{"routers":{}}}` || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	if res := newTestEnv(t, Config{}).do("GET", "/api/v1/traefik/config", nil); res.status != http.StatusServiceUnavailable {
		t.Fatalf("without a router: %d", res.status)
	}
}
