package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DBFile is the database's file name inside the data directory.
const DBFile = "apprun.db"

// busyTimeout is how long a connection waits for a lock held by another
// process (the server and `apprun admin` share the file) before giving up.
const busyTimeout = 10 * time.Second

// SQLite is the Store kept in one SQLite database. It is safe for concurrent
// use.
type SQLite struct {
	// w is the single writer connection: every write transaction queues for
	// it and begins with BEGIN IMMEDIATE.
	w *sql.DB
	// r is a pool of read-only connections; in WAL mode they read a
	// consistent snapshot without blocking w.
	r    *sql.DB
	keys *secretBox
	log  *slog.Logger
	// now is the clock, replaced in tests.
	now func() time.Time
}

var _ Store = (*SQLite)(nil)

// Open opens (creating if needed) the store in cfg.DataDir: it checks that
// the database is configured as the package documentation says, applies
// pending migrations, and loads (or on first start creates) the secrets key.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*SQLite, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolving data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		// Not fatal: the operator may have chosen it, and the secrets are
		// encrypted. But the database holds token hashes and settings.
		log.Warn("data dir is accessible to other users; chmod 700 it", "dir", dir, "mode", fi.Mode().Perm().String())
	}
	path := filepath.Join(dir, DBFile)
	s := &SQLite{log: log, now: func() time.Time { return time.Now() }}
	if s.w, err = openDB(ctx, path, true); err != nil {
		return nil, err
	}
	if s.r, err = openDB(ctx, path, false); err != nil {
		s.w.Close()
		return nil, err
	}
	version, applied, err := migrate(ctx, s.w, s.now)
	if err != nil {
		s.Close()
		return nil, err
	}
	if s.keys, err = s.loadKeys(ctx, dir); err != nil {
		s.Close()
		return nil, err
	}
	log.Info("store opened", "path", path, "schema_version", version, "migrations_applied", applied)
	return s, nil
}

// dsn is the driver's data source name. Every pragma is a DSN parameter so
// that database/sql applies it to each connection it opens, not only the
// first; the driver sets busy_timeout before the others.
func dsn(path string, writer bool) string {
	q := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(FULL)",
		"_pragma=foreign_keys(1)",
	}
	if writer {
		q = append(q, "_txlock=immediate")
	} else {
		// A write through the read pool would bypass the single-writer
		// queue; make it fail instead.
		q = append(q, "_pragma=query_only(1)")
	}
	return path + "?" + strings.Join(q, "&")
}

// openDB opens one of the two handles and checks that its pragmas took.
func openDB(ctx context.Context, path string, writer bool) (*sql.DB, error) {
	role := "reader"
	if writer {
		role = "writer"
	}
	db, err := sql.Open("sqlite", dsn(path, writer))
	if err != nil {
		return nil, fmt.Errorf("opening %s (%s): %w", path, role, err)
	}
	if writer {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	} else {
		n := max(4, runtime.GOMAXPROCS(0))
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
	// Connections live as long as the store: a pragma-configured connection
	// costs a few statements to rebuild and there is nothing to gain.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := verifyPragmas(ctx, db, writer); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s (%s): %w", path, role, err)
	}
	return db, nil
}

// verifyPragmas fails loudly when a setting the package's guarantees rest on
// did not take: SQLite ignores some pragmas silently (WAL on a file system
// without shared memory, for one).
func verifyPragmas(ctx context.Context, db *sql.DB, writer bool) error {
	want := []struct {
		pragma, value string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())},
	}
	if !writer {
		want = append(want, struct{ pragma, value string }{"query_only", "1"})
	}
	var errs []error
	for _, p := range want {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
			return fmt.Errorf("reading pragma %s: %w", p.pragma, err)
		}
		if !strings.EqualFold(got, p.value) {
			errs = append(errs, fmt.Errorf("pragma %s is %q, want %q", p.pragma, got, p.value))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("database is not configured as required (is the data dir on a local file system?): %w", err)
	}
	return nil
}

// Close closes both handles. The readers go first so that the writer's
// close, the last one, checkpoints the WAL into the database file.
func (s *SQLite) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing store: %w", err)
	}
	return nil
}

// Ping reports whether the database answers a query. It uses the read pool,
// so a long write transaction does not make the server look unready.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("pinging store: %w", err)
	}
	return nil
}
