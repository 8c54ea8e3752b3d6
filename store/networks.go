package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/apprun/apprun/spec"
)

// CreateNetwork validates n, assigns its ID and creation time, and stores it.
func (s *SQLite) CreateNetwork(ctx context.Context, n spec.Network) (spec.Network, error) {
	n.ID = newID(prefixNetwork)
	n.CreatedAt = s.stamp()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := n.Validate(); err != nil {
			return err
		}
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM networks WHERE name = ?`, n.Name).Scan(&id)
		switch {
		case err == nil:
			return fmt.Errorf("network %q already exists: %w", n.Name, spec.ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO networks (id, name, internal, created_at) VALUES (?, ?, ?, ?)`,
			n.ID, n.Name, n.Internal, formatTime(n.CreatedAt))
		return err
	})
	if err != nil {
		return spec.Network{}, wrap(err, "creating network %q", n.Name)
	}
	s.log.Info("network created", "network", n.Name, "id", n.ID, "internal", n.Internal)
	return n, nil
}

// GetNetwork returns the named network.
func (s *SQLite) GetNetwork(ctx context.Context, name string) (spec.Network, error) {
	var out []spec.Network
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		out, err = queryNetworks(ctx, tx, `WHERE name = ?`, name)
		return err
	})
	if err != nil {
		return spec.Network{}, wrap(err, "getting network %q", name)
	}
	if len(out) == 0 {
		return spec.Network{}, fmt.Errorf("network %q %w", name, spec.ErrNotFound)
	}
	return out[0], nil
}

// ListNetworks returns every network, ordered by name.
func (s *SQLite) ListNetworks(ctx context.Context) ([]spec.Network, error) {
	var out []spec.Network
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		out, err = queryNetworks(ctx, tx, "")
		return err
	})
	if err != nil {
		return nil, wrap(err, "listing networks")
	}
	return out, nil
}

// DeleteNetwork removes the named network. While services use it, it fails
// with a conflict that names them (the schema's ON DELETE RESTRICT is the
// backstop; the check is for the message).
func (s *SQLite) DeleteNetwork(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM networks WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("network %q %w", name, spec.ErrNotFound)
		} else if err != nil {
			return err
		}
		var users []string
		if err := eachPair(ctx, tx, `SELECT s.id, s.name FROM service_networks x JOIN services s ON s.id = x.service_id
			WHERE x.network_id = ? ORDER BY s.name`, []any{id}, func(_, svc string) { users = append(users, fmt.Sprintf("%q", svc)) }); err != nil {
			return err
		}
		if len(users) > 0 {
			noun := "service"
			if len(users) > 1 {
				noun = "services"
			}
			return fmt.Errorf("network %q is used by %s %s; remove it from them first: %w", name, noun, strings.Join(users, ", "), spec.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM networks WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return wrap(err, "deleting network %q", name)
	}
	s.log.Info("network deleted", "network", name)
	return nil
}

// queryNetworks returns the networks a WHERE clause selects, by name.
func queryNetworks(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]spec.Network, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, internal, created_at FROM networks `+where+` ORDER BY name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []spec.Network{}
	for rows.Next() {
		var n spec.Network
		var created string
		if err := rows.Scan(&n.ID, &n.Name, &n.Internal, &created); err != nil {
			return nil, err
		}
		if n.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
