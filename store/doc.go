// Package store is apprun's persistence: services and their encrypted
// secrets, private networks, custom domains, deployments, revisions and API
// tokens. It is the only package that speaks SQL (DESIGN.md: one package
// owns each outside system), and it speaks it in terms of the spec domain, so
// the rest of apprun sees only the Store interface in store.go.
//
// # The SQLite implementation
//
// SQLite (modernc.org/sqlite, pure Go, no cgo) keeps everything in one file,
// <DataDir>/apprun.db, which suits a platform that must run on a single
// machine with nothing but Docker installed. It is configured for
// durability first, because the deployment state machine writes each step
// before the side effect that follows it and the reconciler trusts what it
// reads back after a crash:
//
//   - journal_mode=WAL with synchronous=FULL: every commit is fsynced to the
//     write-ahead log before it is acknowledged, so a commit that returned
//     survives a power loss, and readers never block the writer (nor the
//     writer the readers). WAL is a property of the file; Open checks that it
//     took, because some file systems silently refuse it.
//   - One writer connection whose transactions begin with BEGIN IMMEDIATE,
//     and a separate pool of read-only connections. A deferred transaction
//     that reads and then writes must upgrade its lock, and two of them
//     upgrading at once deadlock: SQLite answers SQLITE_BUSY at once, without
//     waiting, whatever the busy timeout. Taking the write lock at BEGIN, on
//     the only connection that may write, turns that into an orderly queue;
//     the busy timeout covers another process (`apprun admin token create`
//     while the server runs).
//   - foreign_keys=ON on every connection (it is per connection in SQLite),
//     so deleting a service cascades to its secrets, domains, deployments
//     and revisions, and a network in use cannot be deleted even by a bug.
//
// Pragmas are set through DSN parameters so that every pooled connection
// gets them, not just the first. The schema is versioned (schema_migrations);
// each migration runs in its own transaction at Open, and a database newer
// than the binary is refused rather than misread.
//
// # Secrets
//
// Secret values are encrypted with AES-256-GCM under a key that lives beside
// the database, not in it (<DataDir>/keys/secrets.key, mode 0600), so a copy
// of apprun.db alone reveals no secret. Each ciphertext is bound to its row
// (service ID and secret name as additional data) so it cannot be moved to
// another secret, and starts with a version byte so the scheme can change.
// The database records a fingerprint of the key, so starting with the wrong
// key, or with the key lost, fails at Open instead of at the first deploy.
//
// # PostgreSQL
//
// Nothing outside this package depends on SQLite: the Store interface is in
// domain terms, IDs are generated here rather than by the database, times
// are stored as text in UTC, and every multi-statement change is one
// transaction. A PostgreSQL implementation (for several control-plane nodes)
// can follow with the same schema and the same tests.
package store
