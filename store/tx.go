package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// write runs fn in one write transaction on the writer connection (BEGIN
// IMMEDIATE, so it holds the write lock from its first statement) and
// commits when fn returns nil. Any error, or a panic, rolls everything
// back: a method that fails changes nothing.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning write transaction: %w", err)
	}
	defer tx.Rollback() // a no-op once committed
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// read runs fn in one read transaction on the reader pool, so a method that
// reads several tables sees one consistent snapshot.
func (s *SQLite) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("beginning read transaction: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// timeFormat is RFC 3339 in UTC with a fixed nine-digit fraction, so that
// stored times compare correctly as text (time.RFC3339Nano drops trailing
// zeros, which breaks ordering).
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// stamp returns the current time as stored and as returned: UTC, without a
// monotonic reading, so a value returned by a write equals the one read back.
func (s *SQLite) stamp() time.Time { return s.now().UTC().Round(0) }

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing stored time %q: %w", v, err)
	}
	return t.UTC(), nil
}

// nullTime is a nullable time column.
func formatNullTime(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(*t), Valid: true}
}

func parseNullTime(v sql.NullString) (*time.Time, error) {
	if !v.Valid {
		return nil, nil
	}
	t, err := parseTime(v.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// marshalWithout encodes v as a JSON object without the given keys: the
// fields a table keeps in columns of their own. Encoding the whole value,
// rather than a hand-kept copy of its fields, means a field added to spec is
// stored without a change here.
func marshalWithout(v any, keys ...string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	for _, k := range keys {
		delete(m, k)
	}
	b, err = json.Marshal(m) // keys sorted: stable text for equal values
	return string(b), err
}
