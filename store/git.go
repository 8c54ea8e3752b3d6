package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/apprun/apprun/spec"
)

// Keys stores the SSH public keys allowed to push. The caller parses and
// fingerprints a key (the store keeps text only).
type Keys interface {
	AddKey(ctx context.Context, k spec.SSHKey) (spec.SSHKey, error)
	ListKeys(ctx context.Context) ([]spec.SSHKey, error)
	// KeyByFingerprint returns the key with that fingerprint, or an error
	// wrapping spec.ErrNotFound.
	KeyByFingerprint(ctx context.Context, fingerprint string) (spec.SSHKey, error)
	DeleteKey(ctx context.Context, id string) error
}

// Webhooks stores each service's webhook secret (encrypted like secrets,
// but never injected into instances) and the deliveries already seen.
type Webhooks interface {
	// SetWebhookSecret sets (or replaces) the service's webhook secret.
	SetWebhookSecret(ctx context.Context, service, secret string) error
	// WebhookSecret returns it, or an error wrapping spec.ErrNotFound when
	// none is set (a webhook is then rejected).
	WebhookSecret(ctx context.Context, service string) (string, error)
	// RecordDelivery remembers a delivery; first is false when it was
	// seen before (a redelivery starts nothing).
	RecordDelivery(ctx context.Context, service, provider, deliveryID string) (first bool, err error)
}

// webhookSecretName is the associated data a webhook secret is sealed
// with, distinct from every secret name (which are env names, upper case).
const webhookSecretName = "apprun:webhook"

func (s *SQLite) AddKey(ctx context.Context, k spec.SSHKey) (spec.SSHKey, error) {
	var ps spec.Problems
	if strings.TrimSpace(k.Name) == "" || len(k.Name) > maxTokenName {
		ps.Add("name", "must be 1 to %d characters", maxTokenName)
	}
	if !strings.HasPrefix(k.Fingerprint, "SHA256:") {
		ps.Add("fingerprint", "must be a SHA256 fingerprint")
	}
	if strings.TrimSpace(k.PublicKey) == "" || strings.ContainsAny(k.PublicKey, "\r\n") {
		ps.Add("publicKey", "must be one line in authorized_keys form")
	}
	if err := ps.Err(); err != nil {
		return spec.SSHKey{}, err
	}
	k.ID, k.CreatedAt = newID(prefixKey), s.stamp()
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ssh_keys WHERE fingerprint = ?`, k.Fingerprint).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("key %s is already added: %w", k.Fingerprint, spec.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO ssh_keys (id, name, fingerprint, public_key, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Fingerprint, k.PublicKey, formatTime(k.CreatedAt))
		return err
	})
	if err != nil {
		return spec.SSHKey{}, wrap(err, "adding key %q", k.Name)
	}
	s.log.Info("ssh key added", "key", k.ID, "fingerprint", k.Fingerprint)
	return k, nil
}

func (s *SQLite) ListKeys(ctx context.Context) ([]spec.SSHKey, error) {
	var out []spec.SSHKey
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, fingerprint, public_key, created_at FROM ssh_keys ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, wrap(err, "listing keys")
}

func (s *SQLite) KeyByFingerprint(ctx context.Context, fingerprint string) (spec.SSHKey, error) {
	var k spec.SSHKey
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT id, name, fingerprint, public_key, created_at FROM ssh_keys WHERE fingerprint = ?`, fingerprint))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("key %s %w", fingerprint, spec.ErrNotFound)
		}
		return err
	})
	return k, wrap(err, "reading key %s", fingerprint)
}

func (s *SQLite) DeleteKey(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ssh_keys WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("key %q %w", id, spec.ErrNotFound)
		}
		return nil
	})
	return wrap(err, "deleting key %q", id)
}

type scanner interface{ Scan(...any) error }

func scanKey(r scanner) (spec.SSHKey, error) {
	var k spec.SSHKey
	var created string
	if err := r.Scan(&k.ID, &k.Name, &k.Fingerprint, &k.PublicKey, &created); err != nil {
		return k, err
	}
	t, err := parseTime(created)
	k.CreatedAt = t
	return k, err
}

func (s *SQLite) SetWebhookSecret(ctx context.Context, service, secret string) error {
	if len(secret) < 16 || len(secret) > 1024 {
		return spec.Problems{{Field: "secret", Message: "must be 16 to 1024 characters"}}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, err := serviceID(ctx, tx, service)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_secrets (service_id, ciphertext, created_at) VALUES (?, ?, ?)
			ON CONFLICT (service_id) DO UPDATE SET ciphertext = excluded.ciphertext, created_at = excluded.created_at`,
			id, s.keys.seal(id, webhookSecretName, secret), formatTime(s.stamp()))
		return err
	})
	return wrap(err, "setting the webhook secret of %q", service)
}

func (s *SQLite) WebhookSecret(ctx context.Context, service string) (string, error) {
	var secret string
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, err := serviceID(ctx, tx, service)
		if err != nil {
			return err
		}
		var sealed []byte
		err = tx.QueryRowContext(ctx, `SELECT ciphertext FROM webhook_secrets WHERE service_id = ?`, id).Scan(&sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("service %q has no webhook secret: %w", service, spec.ErrNotFound)
		} else if err != nil {
			return err
		}
		secret, err = s.keys.open(id, webhookSecretName, sealed)
		return err
	})
	return secret, wrap(err, "reading the webhook secret of %q", service)
}

func (s *SQLite) RecordDelivery(ctx context.Context, service, provider, deliveryID string) (bool, error) {
	if deliveryID == "" || len(deliveryID) > 200 {
		return false, spec.Problems{{Field: "delivery", Message: "a delivery ID of 1 to 200 characters is required"}}
	}
	first := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		id, err := serviceID(ctx, tx, service)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (service_id, provider, delivery_id, received_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, id, provider, deliveryID, formatTime(s.stamp()))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		first = n == 1
		return nil
	})
	return first, wrap(err, "recording a delivery for %q", service)
}
