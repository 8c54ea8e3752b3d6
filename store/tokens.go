package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/apprun/apprun/spec"
)

// A token's plain text is TokenPrefix and 32 random bytes in lowercase
// base32 (52 characters). The prefix makes a leaked token easy to spot (and
// for secret scanners to match); the randomness makes it unguessable, which
// is why a single fast hash (SHA-256) is the right way to store it: there is
// no password to brute-force, and verifying stays cheap on every request.
const (
	TokenPrefix = "apprun_"
	tokenBytes  = 32
	tokenChars  = 52
)

// lastUsedEvery is how stale last_used_at may get: VerifyToken runs on every
// API request, and a write per request would queue every reader behind the
// single writer for the sake of a timestamp no one needs to the second.
const lastUsedEvery = time.Minute

// maxTokenName bounds a token's name, which is only a label for people.
const maxTokenName = 100

// CreateToken makes a new token and returns its plain text, shown once:
// only its hash is kept.
func (s *SQLite) CreateToken(ctx context.Context, name string) (string, spec.Token, error) {
	if err := validateTokenName(name); err != nil {
		return "", spec.Token{}, err
	}
	plain := TokenPrefix + randomToken(tokenBytes)
	tok := spec.Token{ID: newID(prefixToken), Name: name, CreatedAt: s.stamp()}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, name, hash, created_at) VALUES (?, ?, ?, ?)`,
			tok.ID, tok.Name, hashToken(plain), formatTime(tok.CreatedAt))
		return err
	})
	if err != nil {
		return "", spec.Token{}, wrap(err, "creating token %q", name)
	}
	s.log.Info("token created", "token", tok.ID, "name", name)
	return plain, tok, nil
}

// VerifyToken returns the token whose plain text is plain, or an error
// wrapping spec.ErrUnauthorized. The lookup is by hash, so its timing says
// nothing about any stored token.
func (s *SQLite) VerifyToken(ctx context.Context, plain string) (spec.Token, error) {
	if !wellFormedToken(plain) {
		return spec.Token{}, fmt.Errorf("malformed token: %w", spec.ErrUnauthorized)
	}
	var toks []spec.Token
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		toks, err = queryTokens(ctx, tx, `WHERE hash = ?`, hashToken(plain))
		return err
	})
	if err != nil {
		return spec.Token{}, wrap(err, "verifying token")
	}
	if len(toks) == 0 {
		return spec.Token{}, fmt.Errorf("unknown token: %w", spec.ErrUnauthorized)
	}
	tok := toks[0]
	now := s.stamp()
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) >= lastUsedEvery {
		// The condition is repeated in SQL so that concurrent requests
		// with the same token write once between them.
		err := s.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
				formatTime(now), tok.ID, formatTime(now.Add(-lastUsedEvery)))
			return err
		})
		if err != nil {
			// The token is valid; refusing the request for the sake of a
			// timestamp would turn a busy database into an outage.
			s.log.Warn("recording token use", "token", tok.ID, "err", err)
		} else {
			tok.LastUsedAt = &now
		}
	}
	return tok, nil
}

// ListTokens returns every token (never a hash), oldest first.
func (s *SQLite) ListTokens(ctx context.Context) ([]spec.Token, error) {
	var out []spec.Token
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		out, err = queryTokens(ctx, tx, `ORDER BY created_at, id`)
		return err
	})
	if err != nil {
		return nil, wrap(err, "listing tokens")
	}
	return out, nil
}

// DeleteToken revokes a token: the next request that presents it is
// refused.
func (s *SQLite) DeleteToken(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("token %q %w", id, spec.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return wrap(err, "deleting token %s", id)
	}
	s.log.Info("token deleted", "token", id)
	return nil
}

// CountTokens tells `apprun serve` whether this is a first start.
func (s *SQLite) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting tokens: %w", err)
	}
	return n, nil
}

func hashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// wellFormedToken checks the shape before any lookup, so that garbage in an
// Authorization header costs no query.
func wellFormedToken(plain string) bool {
	rest, ok := strings.CutPrefix(plain, TokenPrefix)
	if !ok || len(rest) != tokenChars {
		return false
	}
	_, err := lowerBase32.DecodeString(rest)
	return err == nil
}

func validateTokenName(name string) error {
	var ps spec.Problems
	switch {
	case strings.TrimSpace(name) == "":
		ps.Add("name", "must not be empty")
	case len(name) > maxTokenName:
		ps.Add("name", "must be at most %d bytes, got %d", maxTokenName, len(name))
	case strings.ContainsFunc(name, unicode.IsControl):
		ps.Add("name", "must not contain control characters")
	}
	return ps.Err()
}

// queryTokens returns the tokens a WHERE or ORDER BY clause selects.
func queryTokens(ctx context.Context, tx *sql.Tx, clause string, args ...any) ([]spec.Token, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, created_at, last_used_at FROM tokens `+clause, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []spec.Token{}
	for rows.Next() {
		var t spec.Token
		var created string
		var used sql.NullString
		if err := rows.Scan(&t.ID, &t.Name, &created, &used); err != nil {
			return nil, err
		}
		if t.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if t.LastUsedAt, err = parseNullTime(used); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
