package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// verifyTokenBytes is the randomness of a domain's verification token (160
// bits): it proves control of the name, so it must not be guessable.
const verifyTokenBytes = 20

// ListDomains returns the custom domains of every service (service ""),
// ordered by service name and then in the service's own order, or of the
// named service.
func (s *SQLite) ListDomains(ctx context.Context, service string) ([]spec.Domain, error) {
	out := []spec.Domain{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		where, args := "", []any{}
		if service != "" {
			if _, err := serviceID(ctx, tx, service); err != nil {
				return err
			}
			where, args = "WHERE s.name = ?", []any{service}
		}
		rows, err := tx.QueryContext(ctx, `SELECT d.name, s.name, d.status, d.verify_token, d.created_at, d.verified_at
			FROM domains d JOIN services s ON s.id = d.service_id `+where+` ORDER BY s.name, d.position`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d spec.Domain
			var created string
			var verified sql.NullString
			if err := rows.Scan(&d.Name, &d.Service, &d.Status, &d.VerifyToken, &created, &verified); err != nil {
				return err
			}
			if d.CreatedAt, err = parseTime(created); err != nil {
				return err
			}
			if d.VerifiedAt, err = parseNullTime(verified); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(err, "listing domains")
	}
	return out, nil
}

// syncDomains makes the domains table hold exactly the service's domains,
// in its order. A domain the service keeps keeps its status and token; a
// new one starts pending with a fresh token; a removed one is deleted. A
// domain attached to another service is a conflict that names it: the
// router could not tell which service a request for it is meant for.
func syncDomains(ctx context.Context, tx *sql.Tx, serviceID string, domains []string, now time.Time) error {
	var conflicts []string
	for _, d := range domains {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT s.name FROM domains d JOIN services s ON s.id = d.service_id
			WHERE d.name = ? AND d.service_id <> ?`, d, serviceID).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("looking up domain %q: %w", d, err)
		default:
			conflicts = append(conflicts, fmt.Sprintf("domain %q is attached to service %q", d, owner))
		}
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("%s: %w", strings.Join(conflicts, "; "), spec.ErrConflict)
	}
	// Marshal a non-nil slice: "null" would make json_each yield one NULL,
	// and NOT IN a list holding NULL is never true, so nothing would go.
	keep, err := json.Marshal(append([]string{}, domains...))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE service_id = ? AND name NOT IN (SELECT value FROM json_each(?))`,
		serviceID, string(keep)); err != nil {
		return fmt.Errorf("removing domains: %w", err)
	}
	for i, d := range domains {
		if _, err := tx.ExecContext(ctx, `INSERT INTO domains (name, service_id, position, status, verify_token, created_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position`,
			d, serviceID, i, spec.DomainPending, randomToken(verifyTokenBytes), formatTime(now)); err != nil {
			return fmt.Errorf("adding domain %q: %w", d, err)
		}
	}
	return nil
}
