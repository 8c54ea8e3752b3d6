package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// fakeDeployer is the hand-written stand-in for package deployer (which
// needs a Docker engine and is tested there): it records what it was asked,
// writes a little log, and answers what the test set.
type fakeDeployer struct {
	mu sync.Mutex
	// What it was given.
	service    string
	archive    []byte
	revision   string
	formation  map[string]int
	query      LogQuery
	undeployed []string
	// What it answers.
	fail        error // DeployArchive, DeployRevision and Scale fail with it
	unrecorded  bool  // fail before a deployment is recorded
	lines       []LogLine
	follow      bool // Logs waits for ctx after the lines, as a follower does
	logsErr     error
	instances   []InstanceStatus
	undeployErr error
	// stopped is closed when a following Logs call sees its ctx end.
	stopped chan struct{}
}

func (f *fakeDeployer) deployment(kind string) spec.Deployment {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := spec.Deployment{ID: "dep_fake", ServiceID: "svc_fake", Number: 7, State: spec.StateSucceeded,
		RevisionID: "rev_new", Source: spec.DeploymentSource{Kind: kind}, CreatedAt: now, UpdatedAt: now, FinishedAt: &now}
	if f.fail != nil {
		d.State, d.Reason, d.RevisionID = spec.StateFailed, "instance web.1 did not become healthy within 60s", ""
	}
	return d
}

func (f *fakeDeployer) DeployArchive(ctx context.Context, svc spec.Service, archive io.Reader, log io.Writer) (spec.Deployment, error) {
	// Like the real deployer, log before reading the upload: the stream
	// must not cut the request body off.
	fmt.Fprintln(log, "-----> Receiving source")
	data, err := io.ReadAll(archive)
	f.mu.Lock()
	f.service, f.archive = svc.Name, data
	f.mu.Unlock()
	if err != nil {
		return spec.Deployment{}, fmt.Errorf("reading the archive: %w", err)
	}
	fmt.Fprintf(log, "-----> Building\nstep one\r\n")
	fmt.Fprint(log, "partial ")
	fmt.Fprint(log, "line\nno newline at the end")
	return f.finish("archive")
}

func (f *fakeDeployer) DeployRevision(ctx context.Context, svc spec.Service, revisionID string, log io.Writer) (spec.Deployment, error) {
	f.mu.Lock()
	f.service, f.revision = svc.Name, revisionID
	f.mu.Unlock()
	fmt.Fprintf(log, "-----> Rolling back to %q\n", revisionID)
	return f.finish("revision")
}

func (f *fakeDeployer) finish(kind string) (spec.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.fail != nil && f.unrecorded:
		return spec.Deployment{}, f.fail
	case f.fail != nil:
		return f.deployment(kind), fmt.Errorf("deployment 7 failed: %w", f.fail)
	}
	return f.deployment(kind), nil
}

func (f *fakeDeployer) Scale(ctx context.Context, svc spec.Service, formation map[string]int) (spec.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.service, f.formation = svc.Name, formation
	if f.fail != nil {
		return spec.Service{}, f.fail
	}
	if svc.Formation == nil {
		svc.Formation = map[string]int{}
	}
	maps.Copy(svc.Formation, formation)
	return svc, nil
}

func (f *fakeDeployer) Logs(ctx context.Context, svc spec.Service, q LogQuery, emit func(LogLine) error) error {
	f.mu.Lock()
	f.service, f.query = svc.Name, q
	lines, follow, stopped, logsErr := f.lines, f.follow, f.stopped, f.logsErr
	f.mu.Unlock()
	for _, l := range lines {
		if err := emit(l); err != nil {
			return err
		}
	}
	if follow {
		<-ctx.Done()
		close(stopped)
		return ctx.Err()
	}
	return logsErr
}

func (f *fakeDeployer) Instances(ctx context.Context, svc spec.Service) ([]InstanceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.service = svc.Name
	return f.instances, nil
}

func (f *fakeDeployer) Undeploy(ctx context.Context, svc spec.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if svc.ID == "" {
		return fmt.Errorf("undeploy without the service's ID")
	}
	f.undeployed = append(f.undeployed, svc.Name)
	return f.undeployErr
}

// set changes what the fake answers, under its lock (the server's
// goroutines read it).
func (f *fakeDeployer) set(change func(*fakeDeployer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// got returns a copy of what the fake was given, safely.
func (f *fakeDeployer) got() fakeDeployer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeDeployer{service: f.service, archive: f.archive, revision: f.revision, formation: f.formation,
		query: f.query, undeployed: f.undeployed}
}

// readDeployEvents decodes an NDJSON deployment stream strictly and checks
// its shape: log lines, then exactly one last line without a log.
func readDeployEvents(t *testing.T, body string) (logs []string, last deployEvent) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	var evs []deployEvent
	for sc.Scan() {
		var ev deployEvent
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("stream line %q is not a deploy event: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		t.Fatalf("empty stream")
	}
	for _, ev := range evs[:len(evs)-1] {
		if ev.Log == nil || ev.Deployment != nil || ev.Error != nil {
			t.Fatalf("event before the last is not only a log line: %+v\n%s", ev, body)
		}
		logs = append(logs, *ev.Log)
	}
	last = evs[len(evs)-1]
	if last.Log != nil || (last.Deployment == nil && last.Error == nil) {
		t.Fatalf("last event %+v is not an outcome\n%s", last, body)
	}
	return logs, last
}
