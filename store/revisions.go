package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/apprun/apprun/spec"
)

// revisionColumnKeys are the JSON keys of spec.Revision kept in columns;
// the rest (the service snapshot, the apprun.yaml, the processes, and any
// field added later) is the snapshot column.
var revisionColumnKeys = []string{"id", "serviceId", "number", "image", "digest", "deploymentId", "createdAt"}

// CreateRevision records an immutable revision of service rev.ServiceID.
// Its ID, Number (one more than the service's last) and CreatedAt are
// assigned; a DeploymentID, when set, must name a deployment of the same
// service.
func (s *SQLite) CreateRevision(ctx context.Context, rev spec.Revision) (spec.Revision, error) {
	rev.ID = newID(prefixRevision)
	rev.CreatedAt = s.stamp()
	err := s.write(ctx, func(tx *sql.Tx) error {
		var ps spec.Problems
		if strings.TrimSpace(rev.Image) == "" {
			ps.Add("image", "must not be empty")
		}
		var name string
		err := tx.QueryRowContext(ctx, `SELECT name FROM services WHERE id = ?`, rev.ServiceID).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("service with ID %q %w", rev.ServiceID, spec.ErrNotFound)
		} else if err != nil {
			return err
		}
		if rev.DeploymentID != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM deployments WHERE id = ? AND service_id = ?`,
				rev.DeploymentID, rev.ServiceID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				ps.Add("deploymentId", "service %q has no deployment %q", name, rev.DeploymentID)
			}
		}
		if err := ps.Err(); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM revisions WHERE service_id = ?`,
			rev.ServiceID).Scan(&rev.Number); err != nil {
			return err
		}
		snapshot, err := marshalWithout(rev, revisionColumnKeys...)
		if err != nil {
			return fmt.Errorf("encoding snapshot: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO revisions (id, service_id, number, image, digest, snapshot, deployment_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			rev.ID, rev.ServiceID, rev.Number, rev.Image, rev.Digest, snapshot, rev.DeploymentID, formatTime(rev.CreatedAt))
		return err
	})
	if err != nil {
		return spec.Revision{}, wrap(err, "creating revision of service %s", rev.ServiceID)
	}
	s.log.Info("revision created", "service_id", rev.ServiceID, "revision", rev.ID, "number", rev.Number, "image", rev.Image)
	return rev, nil
}

// GetRevision returns a revision of the named service.
func (s *SQLite) GetRevision(ctx context.Context, service, id string) (spec.Revision, error) {
	var rev spec.Revision
	err := s.read(ctx, func(tx *sql.Tx) error {
		sid, err := serviceID(ctx, tx, service)
		if err != nil {
			return err
		}
		rs, err := queryRevisions(ctx, tx, `WHERE id = ? AND service_id = ?`, id, sid)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("revision %q of service %q %w", id, service, spec.ErrNotFound)
		}
		rev = rs[0]
		return nil
	})
	if err != nil {
		return spec.Revision{}, wrap(err, "getting revision %s", id)
	}
	return rev, nil
}

// ListRevisions returns the named service's revisions, newest first.
func (s *SQLite) ListRevisions(ctx context.Context, service string) ([]spec.Revision, error) {
	var out []spec.Revision
	err := s.read(ctx, func(tx *sql.Tx) error {
		sid, err := serviceID(ctx, tx, service)
		if err != nil {
			return err
		}
		out, err = queryRevisions(ctx, tx, `WHERE service_id = ? ORDER BY number DESC`, sid)
		return err
	})
	if err != nil {
		return nil, wrap(err, "listing revisions of service %q", service)
	}
	return out, nil
}

// queryRevisions returns the revisions a WHERE (and ORDER BY) clause
// selects.
func queryRevisions(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]spec.Revision, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, service_id, number, image, digest, snapshot, deployment_id, created_at
		FROM revisions `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []spec.Revision{}
	for rows.Next() {
		var id, sid, image, digest, snapshot, dep, created string
		var number int
		if err := rows.Scan(&id, &sid, &number, &image, &digest, &snapshot, &dep, &created); err != nil {
			return nil, err
		}
		var rev spec.Revision
		if err := json.Unmarshal([]byte(snapshot), &rev); err != nil {
			return nil, fmt.Errorf("decoding snapshot of revision %s: %w", id, err)
		}
		rev.ID, rev.ServiceID, rev.Number, rev.Image, rev.Digest, rev.DeploymentID = id, sid, number, image, digest, dep
		if rev.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	return out, rows.Err()
}
