package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/apprun/apprun/spec"
)

// serviceColumnKeys are the JSON keys of spec.Service kept outside the
// settings column: in columns of their own (id, name, timestamps) or in
// tables that enforce invariants (secrets, networks, domains).
var serviceColumnKeys = []string{"id", "name", "secretNames", "networks", "domains", "createdAt", "updatedAt"}

// marshalSettings encodes every field of svc that has no column of its own.
func marshalSettings(svc spec.Service) (string, error) {
	s, err := marshalWithout(svc, serviceColumnKeys...)
	if err != nil {
		return "", fmt.Errorf("encoding settings: %w", err)
	}
	return s, nil
}

// decodeService rebuilds a service from its row. Settings are decoded onto
// spec.NewService, so a setting added to spec after the row was written
// reads back as its default rather than as a zero value.
func decodeService(id, name, settings, created, updated string) (spec.Service, error) {
	svc := spec.NewService(name)
	if err := json.Unmarshal([]byte(settings), &svc); err != nil {
		return spec.Service{}, fmt.Errorf("decoding settings of service %q: %w", name, err)
	}
	svc.ID, svc.Name = id, name
	svc.SecretNames, svc.Networks, svc.Domains = nil, nil, nil
	var err error
	if svc.CreatedAt, err = parseTime(created); err != nil {
		return spec.Service{}, err
	}
	if svc.UpdatedAt, err = parseTime(updated); err != nil {
		return spec.Service{}, err
	}
	return svc, nil
}

// getService reads the named service with its secret names (sorted),
// networks and domains (in the user's order).
func getService(ctx context.Context, tx *sql.Tx, name string) (spec.Service, error) {
	svcs, err := listServices(ctx, tx, name)
	if err != nil {
		return spec.Service{}, err
	}
	if len(svcs) == 0 {
		return spec.Service{}, serviceNotFound(name)
	}
	return svcs[0], nil
}

// listServices reads every service ordered by name, or only the one called
// name. It reads each table once, however many services there are.
func listServices(ctx context.Context, tx *sql.Tx, name string) ([]spec.Service, error) {
	where, args := "", []any{}
	if name != "" {
		where, args = "WHERE s.name = ?", []any{name}
	}
	svcs, err := scanServices(ctx, tx, `SELECT s.id, s.name, s.settings, s.created_at, s.updated_at FROM services s `+where+` ORDER BY s.name`, args)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]int, len(svcs))
	for i, svc := range svcs {
		byID[svc.ID] = i
	}
	if len(svcs) == 0 {
		return svcs, nil
	}
	// Each query joins services so that the same filter applies.
	attach := []struct {
		query string
		add   func(*spec.Service, string)
	}{
		{`SELECT x.service_id, x.name FROM secrets x JOIN services s ON s.id = x.service_id ` + where + ` ORDER BY x.service_id, x.name`,
			func(svc *spec.Service, v string) { svc.SecretNames = append(svc.SecretNames, v) }},
		{`SELECT x.service_id, n.name FROM service_networks x JOIN networks n ON n.id = x.network_id JOIN services s ON s.id = x.service_id ` + where + ` ORDER BY x.service_id, x.position`,
			func(svc *spec.Service, v string) { svc.Networks = append(svc.Networks, v) }},
		{`SELECT x.service_id, x.name FROM domains x JOIN services s ON s.id = x.service_id ` + where + ` ORDER BY x.service_id, x.position`,
			func(svc *spec.Service, v string) { svc.Domains = append(svc.Domains, v) }},
	}
	for _, a := range attach {
		if err := eachPair(ctx, tx, a.query, args, func(id, v string) {
			if i, ok := byID[id]; ok {
				a.add(&svcs[i], v)
			}
		}); err != nil {
			return nil, err
		}
	}
	for i := range svcs {
		// ORDER BY sorts by bytes, as slices.Sort does; sorting again is
		// cheap and keeps the promise independent of collation.
		slices.Sort(svcs[i].SecretNames)
	}
	return svcs, nil
}

// scanServices reads the services rows a query returns, without their
// secrets, networks and domains.
func scanServices(ctx context.Context, tx *sql.Tx, query string, args []any) ([]spec.Service, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	svcs := []spec.Service{}
	for rows.Next() {
		var id, name, settings, created, updated string
		if err := rows.Scan(&id, &name, &settings, &created, &updated); err != nil {
			return nil, err
		}
		svc, err := decodeService(id, name, settings, created, updated)
		if err != nil {
			return nil, err
		}
		svcs = append(svcs, svc)
	}
	return svcs, rows.Err()
}

// eachPair runs a query that returns two text columns and calls fn on each
// row.
func eachPair(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(a, b string)) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// serviceID returns the ID of the named service.
func serviceID(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM services WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", serviceNotFound(name)
	}
	return id, err
}

// sortedKeys returns m's keys in order, so that writes happen in a
// deterministic order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
