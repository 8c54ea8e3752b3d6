package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apprun/apprun/spec"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		dir string
		ok  bool
	}{{"", false}, {"/var/lib/apprun", true}, {"data", true}, {"/tmp/a?b", false}} {
		if err := (Config{DataDir: c.dir}).Validate(); (err == nil) != c.ok {
			t.Errorf("Validate(%q) = %v", c.dir, err)
		}
	}
	if _, err := Open(t.Context(), Config{}, testLogger(t)); err == nil {
		t.Errorf("Open with no data dir succeeded")
	}
}

func TestOpenCreatesPrivateDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	openAt(t, dir)
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		t.Errorf("no database file: %v", err)
	}
}

// TestPragmas checks every connection the store may use, not just the
// first: pragmas are per connection.
func TestPragmas(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil || got != want {
			t.Errorf("writer %s = %q, %v; want %q", name, got, err, want)
		}
	}
	// Hold several reader connections at once so that the pool opens new
	// ones, and check each.
	n := 4
	conns := make([]interface{ Close() error }, 0, n)
	for i := range n {
		c, err := s.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "query_only": "1"} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil || got != want {
				t.Errorf("reader %d %s = %q, %v; want %q", i, name, got, err, want)
			}
		}
		if _, err := c.ExecContext(ctx, `DELETE FROM tokens`); err == nil {
			t.Errorf("reader %d accepted a write", i)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if stats := s.w.Stats(); stats.MaxOpenConnections != 1 {
		t.Errorf("writer allows %d connections, want 1", stats.MaxOpenConnections)
	}
}

func TestMigrations(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 {
			t.Fatalf("migration %d has version %d: versions must be 1, 2, 3, ...", i, m.version)
		}
	}
	dir := t.TempDir()
	s := openAt(t, dir)
	versions := func() string {
		var got string
		s.r.QueryRowContext(t.Context(), `SELECT group_concat(version) FROM schema_migrations`).Scan(&got)
		return got
	}
	want := versions()
	s.Close()
	for range 3 {
		s = openAt(t, dir)
		if got := versions(); got != want {
			t.Errorf("after reopening, schema_migrations holds %s, want %s", got, want)
		}
		s.Close()
	}

	// A database from a newer apprun is refused, not misread.
	s = openAt(t, dir)
	rawExec(t, s, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', '2030-01-01T00:00:00Z')`, len(migrations)+1)
	s.Close()
	_, err := Open(t.Context(), Config{DataDir: dir}, testLogger(t))
	wantErr(t, err, nil, fmt.Sprintf("schema version %d is newer than this apprun knows (%d)", len(migrations)+1, len(migrations)))
}

func TestPersistenceAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ctx := t.Context()
	mustNetwork(t, s, "db")
	svc, err := s.CreateService(ctx, fullService("web", "db"), map[string]string{"K": "v"})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.CreateDeployment(ctx, "web", spec.DeploymentSource{Kind: "archive"})
	d, _ = s.TransitionDeployment(ctx, d.ID, spec.StateFailed, "because")
	rev, _ := s.CreateRevision(ctx, spec.Revision{ServiceID: svc.ID, Image: "img", Service: svc, DeploymentID: d.ID})
	plain, _, _ := s.CreateToken(ctx, "admin")
	before := dump(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile+"-wal")); !os.IsNotExist(err) {
		t.Errorf("the WAL was not checkpointed and removed on close: %v", err)
	}

	s = openAt(t, dir)
	if after := dump(t, s); after != before {
		t.Errorf("the database changed across close and open:\nbefore\n%s\nafter\n%s", before, after)
	}
	got, _ := s.GetService(ctx, "web")
	deepEqual(t, "service", got, svc)
	gotD, _ := s.GetDeployment(ctx, "web", d.ID)
	deepEqual(t, "deployment", gotD, d)
	gotR, _ := s.GetRevision(ctx, "web", rev.ID)
	deepEqual(t, "revision", gotR, rev)
	if _, err := s.VerifyToken(ctx, plain); err != nil {
		t.Errorf("token after reopen: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping on a closed store succeeded")
	}
}

// TestTwoStoresOneDataDir is `apprun admin token create` while the server
// runs: two processes, one file. Both open (one applies the migrations,
// one creates the key) and both write.
func TestTwoStoresOneDataDir(t *testing.T) {
	dir := t.TempDir()
	stores := make([]*SQLite, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := Open(t.Context(), Config{DataDir: dir}, testLogger(t))
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, s := range stores {
		defer s.Close()
	}
	for i, s := range stores {
		wg.Go(func() {
			for j := range 20 {
				if _, err := s.CreateService(t.Context(), spec.NewService(fmt.Sprintf("s%d-%d", i, j)), map[string]string{"K": "v"}); err != nil {
					t.Errorf("store %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	// Each reads the other's secrets: they share one key.
	for i, s := range stores {
		if got, err := s.ServiceSecrets(t.Context(), fmt.Sprintf("s%d-0", 1-i)); err != nil || got["K"] != "v" {
			t.Errorf("store %d reading the other's secret: %v, %v", i, got, err)
		}
	}
}
