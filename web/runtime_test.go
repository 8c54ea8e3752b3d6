package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

func TestFormation(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	var svc struct {
		Name      string         `json:"name"`
		Formation map[string]int `json:"formation"`
	}
	e.must(http.StatusOK, "PUT", "/api/v1/services/web/formation", `{"web":3,"worker":0}`).decode(t, &svc)
	if svc.Name != "web" || svc.Formation["web"] != 3 || svc.Formation["worker"] != 0 || len(svc.Formation) != 2 {
		t.Fatalf("answer %+v", svc)
	}
	if got := fd.got(); got.formation["web"] != 3 || len(got.formation) != 2 {
		t.Errorf("deployer got %v", got.formation)
	}
	// Every problem at once.
	res := e.do("PUT", "/api/v1/services/web/formation", `{"web":101,"bad type!":1}`)
	if res.status != http.StatusUnprocessableEntity || len(res.errBody(t).Problems) != 2 {
		t.Fatalf("two problems: %d %s", res.status, res.body)
	}
	// The deployer's own refusal (a type the revision does not have).
	fd.set(func(f *fakeDeployer) {
		f.fail = spec.Problems{{Field: "formation.cron", Message: "the serving revision has no process type cron"}}
	})
	if res := e.do("PUT", "/api/v1/services/web/formation", `{"cron":1}`); res.status != http.StatusUnprocessableEntity || res.errBody(t).Field != "formation.cron" {
		t.Fatalf("deployer refusal: %d %s", res.status, res.body)
	}
}

func TestLogs(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	at := time.Date(2026, 11, 26, 3, 4, 5, 123456789, time.UTC)
	lines := []LogLine{
		{Time: at, Instance: "ins_a", Process: "web", Revision: "rev_1", Line: "listening on :8080"},
		{Time: at.Add(time.Second), Instance: "ins_b", Process: "worker", Revision: "rev_1", Line: `{"json":"in a line"}`},
	}
	fd.set(func(f *fakeDeployer) { f.lines = lines })
	before := time.Now()
	res := e.must(http.StatusOK, "GET", "/api/v1/services/web/logs?since=10m&tail=50&process=web&revision=rev_1", nil)
	if res.header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("Content-Type %q", res.header.Get("Content-Type"))
	}
	var got []LogLine
	for _, l := range strings.Split(strings.TrimSpace(string(res.body)), "\n") {
		var ll LogLine
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ll); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, ll)
	}
	if len(got) != 2 || !got[0].Time.Equal(at) || got[1].Line != lines[1].Line {
		t.Fatalf("lines %+v", got)
	}
	q := fd.got().query
	if q.Tail != 50 || q.Process != "web" || q.Revision != "rev_1" || q.Follow || q.Since.Before(before.Add(-10*time.Minute-time.Second)) || q.Since.After(time.Now().Add(-10*time.Minute)) {
		t.Errorf("query %+v", q)
	}
	e.must(http.StatusOK, "GET", "/api/v1/services/web/logs?since=2026-11-26T03:00:00%2B01:00", nil)
	if q := fd.got().query; !q.Since.Equal(time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("since = %v", q.Since)
	}

	// A failure once streaming is a last error line.
	fd.set(func(f *fakeDeployer) { f.logsErr = errors.New("the engine went away") })
	res = e.must(http.StatusOK, "GET", "/api/v1/services/web/logs", nil)
	all := strings.Split(strings.TrimSpace(string(res.body)), "\n")
	if len(all) != 3 || !strings.Contains(all[2], `"error":{"code":"logs_failed"`) {
		t.Fatalf("stream %s", res.body)
	}
}

// TestLogsFollowFlushesEachLine reads the first line while the server is
// still streaming (so it must have been flushed), then hangs up and checks
// that the deployer's follow stops.
func TestLogsFollowFlushesEachLine(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	stopped := make(chan struct{})
	fd.set(func(f *fakeDeployer) {
		f.follow, f.stopped = true, stopped
		f.lines = []LogLine{{Time: time.Now(), Instance: "ins_a", Process: "web", Line: "hello"}}
	})
	req, err := http.NewRequest("GET", e.ts.URL+"/api/v1/services/web/logs?follow=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"line":"hello"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	resp.Body.Close()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the deployer kept following after the client hung up")
	}
	if !fd.got().query.Follow {
		t.Error("follow not passed on")
	}
}

func TestInstances(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	var empty map[string][]InstanceStatus
	res := e.must(http.StatusOK, "GET", "/api/v1/services/web/instances", nil)
	if res.decode(t, &empty); empty["instances"] == nil || !strings.Contains(string(res.body), `"instances":[]`) {
		t.Fatalf("no instances: %s", res.body)
	}
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fd.set(func(f *fakeDeployer) {
		f.instances = []InstanceStatus{{ID: "ins_a", Name: "apprun-web-web-a", Process: "web", RevisionID: "rev_1", State: "running", Address: "172.18.0.5:8080", Ready: true, StartedAt: started}}
	})
	var got struct{ Instances []InstanceStatus }
	e.must(http.StatusOK, "GET", "/api/v1/services/web/instances", nil).decode(t, &got)
	if len(got.Instances) != 1 || got.Instances[0].Address != "172.18.0.5:8080" || !got.Instances[0].StartedAt.Equal(started) {
		t.Fatalf("instances %+v", got)
	}
}
