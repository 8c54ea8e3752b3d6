package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	var out []spec.Domain
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		where, args := "", []any{}
		if service != "" {
			if _, err := serviceID(ctx, tx, service); err != nil {
				return err
			}
			where, args = "WHERE s.name = ?", []any{service}
		}
		out, err = queryDomains(ctx, tx, where, args...)
		return err
	})
	if err != nil {
		return nil, wrap(err, "listing domains")
	}
	return out, nil
}

// GetDomain returns the custom domain called name, whichever service it is
// attached to.
func (s *SQLite) GetDomain(ctx context.Context, name string) (spec.Domain, error) {
	var out spec.Domain
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		out, err = getDomain(ctx, tx, name)
		return err
	})
	if err != nil {
		return spec.Domain{}, wrap(err, "getting domain %q", name)
	}
	return out, nil
}

// AddDomain attaches the custom domain name to the service, after its
// existing ones, as a pending domain with a fresh verification token. It
// goes through the same path as UpdateService (the service's Domains and
// the domains table change together, and the service's updatedAt moves), so
// the two can never disagree.
func (s *SQLite) AddDomain(ctx context.Context, service, name string) (spec.Domain, error) {
	var out spec.Domain
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := spec.ValidateHostname(name); err != nil {
			return spec.Problems{{Field: "name", Message: err.Error()}}
		}
		svc, err := getService(ctx, tx, service)
		if err != nil {
			return err
		}
		if slices.Contains(svc.Domains, name) {
			return fmt.Errorf("domain %q is already attached to service %q: %w", name, service, spec.ErrConflict)
		}
		if err := s.setDomains(ctx, tx, svc.ID, append(svc.Domains, name)); err != nil {
			return err
		}
		out, err = getDomain(ctx, tx, name)
		return err
	})
	if err != nil {
		return spec.Domain{}, wrap(err, "adding domain %q to service %q", name, service)
	}
	s.log.Info("domain added", "service", service, "domain", name)
	return out, nil
}

// RemoveDomain detaches the custom domain name from the service; a domain
// the service does not have is not found. The name is then free for any
// service, and must be verified again if it comes back.
func (s *SQLite) RemoveDomain(ctx context.Context, service, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		svc, err := getService(ctx, tx, service)
		if err != nil {
			return err
		}
		i := slices.Index(svc.Domains, name)
		if i < 0 {
			return fmt.Errorf("domain %q of service %q %w", name, service, spec.ErrNotFound)
		}
		return s.setDomains(ctx, tx, svc.ID, slices.Delete(svc.Domains, i, i+1))
	})
	if err != nil {
		return wrap(err, "removing domain %q from service %q", name, service)
	}
	s.log.Info("domain removed", "service", service, "domain", name)
	return nil
}

// VerifyDomain records that ownership of the custom domain name was proven:
// a pending domain becomes verified, with VerifiedAt now. A domain already
// verified is returned unchanged (its VerifiedAt is when it first was).
func (s *SQLite) VerifyDomain(ctx context.Context, name string) (spec.Domain, error) {
	var out spec.Domain
	var changed int64
	now := s.stamp()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE domains SET status = ?, verified_at = ? WHERE name = ? AND status = ?`,
			spec.DomainVerified, formatTime(now), name, spec.DomainPending)
		if err != nil {
			return err
		}
		if changed, err = res.RowsAffected(); err != nil {
			return err
		}
		out, err = getDomain(ctx, tx, name)
		return err
	})
	if err != nil {
		return spec.Domain{}, wrap(err, "verifying domain %q", name)
	}
	if changed > 0 {
		s.log.Info("domain verified", "service", out.Service, "domain", name)
	}
	return out, nil
}

// setDomains makes domains the service's custom domains, as UpdateService
// would: the rows follow, and the service's updatedAt moves.
func (s *SQLite) setDomains(ctx context.Context, tx *sql.Tx, serviceID string, domains []string) error {
	now := s.stamp()
	if err := syncDomains(ctx, tx, serviceID, domains, now); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE services SET updated_at = ? WHERE id = ?`, formatTime(now), serviceID)
	return err
}

func getDomain(ctx context.Context, tx *sql.Tx, name string) (spec.Domain, error) {
	ds, err := queryDomains(ctx, tx, "WHERE d.name = ?", name)
	if err != nil {
		return spec.Domain{}, err
	}
	if len(ds) == 0 {
		return spec.Domain{}, fmt.Errorf("domain %q %w", name, spec.ErrNotFound)
	}
	return ds[0], nil
}

// queryDomains reads the domains a WHERE clause (on d, the domains, and s,
// their services) selects, by service name and then position.
func queryDomains(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]spec.Domain, error) {
	rows, err := tx.QueryContext(ctx, `SELECT d.name, s.name, d.status, d.verify_token, d.created_at, d.verified_at
		FROM domains d JOIN services s ON s.id = d.service_id `+where+` ORDER BY s.name, d.position`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []spec.Domain{}
	for rows.Next() {
		var d spec.Domain
		var created string
		var verified sql.NullString
		if err := rows.Scan(&d.Name, &d.Service, &d.Status, &d.VerifyToken, &created, &verified); err != nil {
			return nil, err
		}
		if d.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if d.VerifiedAt, err = parseNullTime(verified); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
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
