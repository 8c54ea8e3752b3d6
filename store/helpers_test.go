package store

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openAt opens the store in dir and closes it when the test ends.
func openAt(t testing.TB, dir string) *SQLite {
	t.Helper()
	s, err := Open(t.Context(), Config{DataDir: dir}, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a store in a fresh directory.
func newStore(t testing.TB) (*SQLite, string) {
	dir := t.TempDir()
	return openAt(t, dir), dir
}

// fakeClock is a settable clock for the store.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// useClock makes s read c; call it before s is shared between goroutines.
func useClock(s *SQLite) *fakeClock {
	c := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)}
	s.now = c.now
	return c
}

func mustNetwork(t *testing.T, s *SQLite, name string) spec.Network {
	t.Helper()
	n, err := s.CreateNetwork(t.Context(), spec.Network{Name: name})
	if err != nil {
		t.Fatalf("CreateNetwork(%s): %v", name, err)
	}
	return n
}

// fullService sets every field of spec.Service to a value other than its
// default, so a field the store forgets to keep shows in a round trip.
// TestFullServiceCoversEveryField keeps it honest when spec grows.
func fullService(name string, networks ...string) spec.Service {
	return spec.Service{
		Name:         name,
		Port:         3000,
		Env:          map[string]string{"LOG_LEVEL": "debug", "EMPTY": "", "UNICODE": "héllo ✓"},
		SecretNames:  []string{"IGNORED_BY_THE_STORE"},
		Scaling:      spec.Scaling{MaxConcurrency: 7, MinInstances: 0, MaxInstances: 3},
		HealthCheck:  spec.HealthCheck{Protocol: spec.ProtocolHTTP, Path: "/healthz?full=1", Interval: 9, Timeout: 3, HealthyThreshold: 2, UnhealthyThreshold: 4},
		InstanceSize: spec.InstanceSize{CPU: 0.25, MemoryMB: 512},
		Networks:     networks,
		Domains:      []string{"www." + name + ".example.com", name + ".example.org"},
		Formation:    map[string]int{"web": 2, "worker": 0},
		Source:       spec.Source{Repo: "https://git.example.com/acme/" + name + ".git", Branch: "release/v2", AutoDeploy: false, Poll: "90s"},
		ID:           "svc_ignored",
		CreatedAt:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// dump renders every table the store owns, so a test can prove that a
// failed call changed nothing at all.
func dump(t *testing.T, s *SQLite) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"services", "secrets", "networks", "service_networks", "domains", "deployments", "revisions", "tokens", "ssh_keys", "webhook_secrets", "webhook_deliveries", "meta", "schema_migrations"} {
		rows, err := s.r.QueryContext(t.Context(), "SELECT * FROM "+table+" ORDER BY 1, 2")
		if err != nil {
			t.Fatalf("dumping %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dumping %s: %v", table, err)
			}
			fmt.Fprintf(&b, "%s %v\n", table, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dumping %s: %v", table, err)
		}
		rows.Close()
	}
	return b.String()
}

// rawExec writes to the database behind the store's back, through its
// writer, to simulate tampering or an older schema.
func rawExec(t *testing.T, s *SQLite, query string, args ...any) sql.Result {
	t.Helper()
	res, err := s.w.ExecContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	return res
}

// wantErr fails unless err wraps target and its message contains each of
// the fragments.
func wantErr(t *testing.T, err, target error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", target)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("error %q does not wrap %v", err, target)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}

// wantProblem fails unless err is a validation error with a problem at
// field whose message contains fragment.
func wantProblem(t *testing.T, err error, field, fragment string) {
	t.Helper()
	ps, ok := spec.AsProblems(err)
	if !ok {
		t.Fatalf("error %v is not a spec.Problems", err)
	}
	for _, p := range ps {
		if p.Field == field && strings.Contains(p.Message, fragment) {
			return
		}
	}
	t.Errorf("problems %q have none at %s mentioning %q", ps, field, fragment)
}

func deepEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}
