package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// ServiceSecrets returns the decrypted secrets of the named service, for the
// deployer to inject at start. Never expose the result through the API, and
// never log it.
func (s *SQLite) ServiceSecrets(ctx context.Context, name string) (map[string]string, error) {
	out := map[string]string{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, err := serviceID(ctx, tx, name)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT name, ciphertext FROM secrets WHERE service_id = ?`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var secret string
			var sealed []byte
			if err := rows.Scan(&secret, &sealed); err != nil {
				return err
			}
			v, err := s.keys.open(id, secret, sealed)
			if err != nil {
				return fmt.Errorf("secret %q: %w", secret, err)
			}
			out[secret] = v
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(err, "reading secrets of service %q", name)
	}
	return out, nil
}

// putSecret adds or replaces one secret, freshly sealed (a new nonce each
// time, even for an unchanged value).
func (s *SQLite) putSecret(ctx context.Context, tx *sql.Tx, serviceID, name, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO secrets (service_id, name, ciphertext) VALUES (?, ?, ?)
		ON CONFLICT (service_id, name) DO UPDATE SET ciphertext = excluded.ciphertext`,
		serviceID, name, s.keys.seal(serviceID, name, value))
	if err != nil {
		return fmt.Errorf("writing secret %q: %w", name, err)
	}
	return nil
}

// applySecrets applies the secret half of a ServiceUpdate, in the order its
// documentation gives: ReplaceSecrets drops every secret not being set,
// UnsetSecrets removes names (unknown ones are ignored), SetSecrets adds or
// replaces values, so a name both unset and set ends up set.
func (s *SQLite) applySecrets(ctx context.Context, tx *sql.Tx, serviceID string, u ServiceUpdate) error {
	if u.ReplaceSecrets {
		keep, err := json.Marshal(sortedKeys(u.SetSecrets))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE service_id = ? AND name NOT IN (SELECT value FROM json_each(?))`,
			serviceID, string(keep)); err != nil {
			return fmt.Errorf("replacing secrets: %w", err)
		}
	}
	for _, name := range u.UnsetSecrets {
		if _, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE service_id = ? AND name = ?`, serviceID, name); err != nil {
			return fmt.Errorf("removing secret %q: %w", name, err)
		}
	}
	for _, name := range sortedKeys(u.SetSecrets) {
		if err := s.putSecret(ctx, tx, serviceID, name, u.SetSecrets[name]); err != nil {
			return err
		}
	}
	return nil
}
