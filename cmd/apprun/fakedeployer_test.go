package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// fakeDeployer stands in for package deployer (tested there, against
// Docker): it records what the API asked and answers what the test set.
type fakeDeployer struct {
	mu         sync.Mutex
	service    string
	archive    []byte
	revision   string
	formation  map[string]int
	query      web.LogQuery
	fail       error
	lines      []web.LogLine
	logsErr    error
	instances  []web.InstanceStatus
	deploys    int
	undeployed []string
}

func (f *fakeDeployer) DeployArchive(ctx context.Context, svc spec.Service, archive io.Reader, log io.Writer) (spec.Deployment, error) {
	fmt.Fprintln(log, "-----> Receiving source")
	data, err := io.ReadAll(archive)
	if err != nil {
		return spec.Deployment{}, err
	}
	fmt.Fprintln(log, "-----> Building\nbuilt image for "+svc.Name)
	f.mu.Lock()
	f.service, f.archive = svc.Name, data
	f.mu.Unlock()
	return f.finish("archive", "")
}

func (f *fakeDeployer) DeployRevision(ctx context.Context, svc spec.Service, revisionID string, log io.Writer) (spec.Deployment, error) {
	fmt.Fprintln(log, "-----> Starting the old revision")
	f.mu.Lock()
	f.service, f.revision = svc.Name, revisionID
	f.mu.Unlock()
	return f.finish("revision", revisionID)
}

func (f *fakeDeployer) finish(kind, revision string) (spec.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deploys++
	if revision == "" {
		revision = "rev_new"
	}
	d := spec.Deployment{ID: fmt.Sprintf("dep_%d", f.deploys), Number: f.deploys, State: spec.StateSucceeded, RevisionID: revision, Source: spec.DeploymentSource{Kind: kind}}
	if f.fail != nil {
		d.State, d.Reason = spec.StateFailed, "instance web did not become healthy within 60s"
		return d, f.fail
	}
	return d, nil
}

func (f *fakeDeployer) Scale(ctx context.Context, svc spec.Service, formation map[string]int) (spec.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.service, f.formation = svc.Name, formation
	svc.Formation = maps.Clone(formation)
	return svc, nil
}

func (f *fakeDeployer) Logs(ctx context.Context, svc spec.Service, q web.LogQuery, emit func(web.LogLine) error) error {
	f.mu.Lock()
	f.service, f.query = svc.Name, q
	lines, logsErr := f.lines, f.logsErr
	f.mu.Unlock()
	for _, l := range lines {
		if err := emit(l); err != nil {
			return err
		}
	}
	return logsErr
}

func (f *fakeDeployer) Instances(ctx context.Context, svc spec.Service) ([]web.InstanceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.instances, nil
}

func (f *fakeDeployer) Undeploy(ctx context.Context, svc spec.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.undeployed = append(f.undeployed, svc.Name)
	return nil
}

func (f *fakeDeployer) set(change func(*fakeDeployer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeDeployer) last() (service, revision string, archive []byte, formation map[string]int, q web.LogQuery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.service, f.revision, f.archive, f.formation, f.query
}

// deployServer is the real API and store in-process with the fake
// deployer, and the CLI environment that talks to it.
func deployServer(t *testing.T) (map[string]string, *store.SQLite, *fakeDeployer) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	token, _, err := st.CreateToken(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	fd := &fakeDeployer{}
	srv, err := web.New(web.Config{Deployer: fd, ServiceURL: func(n string) string { return "http://" + n + ".apps.test" }}, st, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	env := map[string]string{"APPRUN_SERVER": ts.URL, "APPRUN_TOKEN": token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	return env, st, fd
}

// writeTree writes a file, making its directories.
func writeTree(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, content)
}

// tarNames lists the entries of a tar.gz.
func tarNames(t *testing.T, archive []byte) []string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("the upload is not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	slices.Sort(names)
	return names
}

// seedRevisions records n deployments and revisions for service, as the
// deployer would, and returns the revisions oldest first.
func seedRevisions(t *testing.T, st *store.SQLite, service string, n int) []spec.Revision {
	t.Helper()
	ctx := context.Background()
	svc, err := st.GetService(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	var out []spec.Revision
	for i := range n {
		d, err := st.CreateDeployment(ctx, service, spec.DeploymentSource{Kind: "archive"})
		if err != nil {
			t.Fatal(err)
		}
		rev, err := st.CreateRevision(ctx, spec.Revision{ServiceID: svc.ID, Image: fmt.Sprintf("apprun/app:%d", i), Digest: fmt.Sprintf("sha256:%064x", i), Service: svc, DeploymentID: d.ID})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rev)
	}
	return out
}
