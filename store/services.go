package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/apprun/apprun/spec"
)

// CreateService validates svc, assigns its ID and timestamps, and stores it
// with its networks, domains and (encrypted) secrets in one transaction.
// svc.SecretNames is ignored: the names come from secrets.
func (s *SQLite) CreateService(ctx context.Context, svc spec.Service, secrets map[string]string) (spec.Service, error) {
	now := s.stamp()
	svc.ID = newID(prefixService)
	svc.CreatedAt, svc.UpdatedAt = now, now
	svc.SecretNames = nil
	var out spec.Service
	err := s.write(ctx, func(tx *sql.Tx) error {
		netIDs, err := validateService(ctx, tx, svc, secrets)
		if err != nil {
			return err
		}
		if err := checkServiceName(ctx, tx, svc.Name, ""); err != nil {
			return err
		}
		settings, err := marshalSettings(svc)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO services (id, name, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			svc.ID, svc.Name, settings, formatTime(now), formatTime(now)); err != nil {
			return err
		}
		if err := setNetworks(ctx, tx, svc.ID, netIDs); err != nil {
			return err
		}
		if err := syncDomains(ctx, tx, svc.ID, svc.Domains, now); err != nil {
			return err
		}
		for _, name := range sortedKeys(secrets) {
			if err := s.putSecret(ctx, tx, svc.ID, name, secrets[name]); err != nil {
				return err
			}
		}
		out, err = getService(ctx, tx, svc.Name)
		return err
	})
	if err != nil {
		return spec.Service{}, wrap(err, "creating service %q", svc.Name)
	}
	s.log.Info("service created", "service", out.Name, "id", out.ID)
	return out, nil
}

// GetService returns the named service.
func (s *SQLite) GetService(ctx context.Context, name string) (spec.Service, error) {
	var out spec.Service
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		out, err = getService(ctx, tx, name)
		return err
	})
	if err != nil {
		return spec.Service{}, wrap(err, "getting service %q", name)
	}
	return out, nil
}

// ListServices returns every service, ordered by name.
func (s *SQLite) ListServices(ctx context.Context) ([]spec.Service, error) {
	var out []spec.Service
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		out, err = listServices(ctx, tx, "")
		return err
	})
	if err != nil {
		return nil, wrap(err, "listing services")
	}
	return out, nil
}

// UpdateService applies u to the named service in one write transaction:
// Mutate sees the current row, the result is validated, and nothing is
// written when anything fails. Mutate runs while the store's only writer
// is held, so it must be quick and must not write to the store itself
// (that would wait for the writer it holds until ctx ends).
//
// Mutate may rename the service (the ID, and so the secrets and on-disk
// paths, stay); it cannot change the ID, CreatedAt or SecretNames, which
// are restored after it runs.
func (s *SQLite) UpdateService(ctx context.Context, name string, u ServiceUpdate) (spec.Service, error) {
	var out spec.Service
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getService(ctx, tx, name)
		if err != nil {
			return err
		}
		id, created := cur.ID, cur.CreatedAt
		svc := cur
		if u.Mutate != nil {
			if err := u.Mutate(&svc); err != nil {
				return mutateError{err}
			}
		}
		now := s.stamp()
		svc.ID, svc.CreatedAt, svc.UpdatedAt, svc.SecretNames = id, created, now, nil
		netIDs, err := validateService(ctx, tx, svc, u.SetSecrets)
		if err != nil {
			return err
		}
		if err := checkServiceName(ctx, tx, svc.Name, id); err != nil {
			return err
		}
		settings, err := marshalSettings(svc)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE services SET name = ?, settings = ?, updated_at = ? WHERE id = ?`,
			svc.Name, settings, formatTime(now), id); err != nil {
			return err
		}
		if err := setNetworks(ctx, tx, id, netIDs); err != nil {
			return err
		}
		if err := syncDomains(ctx, tx, id, svc.Domains, now); err != nil {
			return err
		}
		if err := s.applySecrets(ctx, tx, id, u); err != nil {
			return err
		}
		out, err = getService(ctx, tx, svc.Name)
		return err
	})
	if err != nil {
		return spec.Service{}, wrap(err, "updating service %q", name)
	}
	return out, nil
}

// DeleteService removes the service; the schema's cascades remove its
// secrets, networks links, domains, deployments and revisions.
func (s *SQLite) DeleteService(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM services WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return serviceNotFound(name)
		}
		return nil
	})
	if err != nil {
		return wrap(err, "deleting service %q", name)
	}
	s.log.Info("service deleted", "service", name)
	return nil
}

// validateService returns every problem with svc and the secrets about to
// be written, including networks that do not exist, and otherwise the IDs
// of svc's networks in order. It runs inside the write transaction, so a
// network cannot vanish between the check and the write.
func validateService(ctx context.Context, tx *sql.Tx, svc spec.Service, secrets map[string]string) ([]string, error) {
	ps, err := problemsOf(svc.Validate())
	if err != nil {
		return nil, err
	}
	sps, err := problemsOf(spec.ValidateSecrets(secrets))
	if err != nil {
		return nil, err
	}
	ps = append(ps, sps...)
	var ids []string
	seen := map[string]bool{}
	for i, n := range svc.Networks {
		if seen[n] || spec.ValidateName(n) != nil {
			continue // Validate has reported it
		}
		seen[n] = true
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM networks WHERE name = ?`, n).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			ps.Add(fmt.Sprintf("networks[%d]", i), "network %q does not exist", n)
		case err != nil:
			return nil, fmt.Errorf("looking up network %q: %w", n, err)
		default:
			ids = append(ids, id)
		}
	}
	return ids, ps.Err()
}

// checkServiceName fails with a conflict if another service than selfID is
// called name. The write transaction makes check-then-insert safe; the
// UNIQUE constraint is the backstop.
func checkServiceName(ctx context.Context, tx *sql.Tx, name, selfID string) error {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM services WHERE name = ?`, name).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case id != selfID:
		return fmt.Errorf("service %q already exists: %w", name, spec.ErrConflict)
	}
	return nil
}

// setNetworks replaces the service's network links, keeping their order.
func setNetworks(ctx context.Context, tx *sql.Tx, serviceID string, netIDs []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM service_networks WHERE service_id = ?`, serviceID); err != nil {
		return err
	}
	for i, id := range netIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO service_networks (service_id, network_id, position) VALUES (?, ?, ?)`,
			serviceID, id, i); err != nil {
			return err
		}
	}
	return nil
}
