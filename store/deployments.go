package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/apprun/apprun/spec"
)

// sourceKinds are the kinds spec.DeploymentSource documents.
var sourceKinds = []string{"archive", "git", "revision"}

// CreateDeployment records a queued deployment of the named service. Its
// Number, one more than the service's last, is assigned in the same
// transaction, so two deployments never share one.
func (s *SQLite) CreateDeployment(ctx context.Context, service string, src spec.DeploymentSource) (spec.Deployment, error) {
	now := s.stamp()
	d := spec.Deployment{ID: newID(prefixDeployment), State: spec.StateQueued, Source: src, CreatedAt: now, UpdatedAt: now}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if !slices.Contains(sourceKinds, src.Kind) {
			var ps spec.Problems
			ps.Add("source.kind", "must be one of %q, got %q", sourceKinds, src.Kind)
			return ps
		}
		var err error
		if d.ServiceID, err = serviceID(ctx, tx, service); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) + 1 FROM deployments WHERE service_id = ?`,
			d.ServiceID).Scan(&d.Number); err != nil {
			return err
		}
		source, err := json.Marshal(d.Source)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO deployments (id, service_id, number, state, source, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.ServiceID, d.Number, d.State, string(source), formatTime(now), formatTime(now))
		return err
	})
	if err != nil {
		return spec.Deployment{}, wrap(err, "creating deployment of service %q", service)
	}
	s.log.Info("deployment created", "service", service, "deployment", d.ID, "number", d.Number, "kind", src.Kind)
	return d, nil
}

// TransitionDeployment moves a deployment to state to, as the state
// machine in spec allows, records reason (when not empty; an earlier reason
// is kept otherwise), and sets FinishedAt on a final state.
func (s *SQLite) TransitionDeployment(ctx context.Context, id string, to spec.DeploymentState, reason string) (spec.Deployment, error) {
	var d spec.Deployment
	var from spec.DeploymentState
	err := s.write(ctx, func(tx *sql.Tx) error {
		ds, err := queryDeployments(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return fmt.Errorf("deployment %q %w", id, spec.ErrNotFound)
		}
		d, from = ds[0], ds[0].State
		if err := from.CheckTransition(to); err != nil {
			return fmt.Errorf("deployment %s: %w", id, err)
		}
		now := s.stamp()
		d.State, d.UpdatedAt = to, now
		if reason != "" {
			d.Reason = reason
		}
		if to.Final() {
			d.FinishedAt = &now
		}
		_, err = tx.ExecContext(ctx, `UPDATE deployments SET state = ?, reason = ?, updated_at = ?, finished_at = ? WHERE id = ?`,
			d.State, d.Reason, formatTime(now), formatNullTime(d.FinishedAt), id)
		return err
	})
	if err != nil {
		return spec.Deployment{}, wrap(err, "moving deployment %s to %s", id, to)
	}
	s.log.Info("deployment state", "deployment", id, "from", from, "to", to, "reason", reason)
	return d, nil
}

// SetDeploymentRevision records the revision a deployment deploys. The
// revision must belong to the deployment's service, and a finished
// deployment's revision is history: it cannot change.
func (s *SQLite) SetDeploymentRevision(ctx context.Context, deploymentID, revisionID string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		ds, err := queryDeployments(ctx, tx, `WHERE id = ?`, deploymentID)
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return fmt.Errorf("deployment %q %w", deploymentID, spec.ErrNotFound)
		}
		d := ds[0]
		if d.State.Final() {
			return fmt.Errorf("deployment %s is %s, its revision cannot change: %w", d.ID, d.State, spec.ErrConflict)
		}
		rs, err := queryRevisions(ctx, tx, `WHERE id = ?`, revisionID)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("revision %q %w", revisionID, spec.ErrNotFound)
		}
		if rs[0].ServiceID != d.ServiceID {
			return fmt.Errorf("revision %s belongs to another service than deployment %s: %w", revisionID, d.ID, spec.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE deployments SET revision_id = ?, updated_at = ? WHERE id = ?`,
			revisionID, formatTime(s.stamp()), d.ID)
		return err
	})
	return wrap(err, "setting the revision of deployment %s", deploymentID)
}

// GetDeployment returns a deployment of the named service.
func (s *SQLite) GetDeployment(ctx context.Context, service, id string) (spec.Deployment, error) {
	var d spec.Deployment
	err := s.read(ctx, func(tx *sql.Tx) error {
		sid, err := serviceID(ctx, tx, service)
		if err != nil {
			return err
		}
		ds, err := queryDeployments(ctx, tx, `WHERE id = ? AND service_id = ?`, id, sid)
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return fmt.Errorf("deployment %q of service %q %w", id, service, spec.ErrNotFound)
		}
		d = ds[0]
		return nil
	})
	if err != nil {
		return spec.Deployment{}, wrap(err, "getting deployment %s", id)
	}
	return d, nil
}

// ListDeployments returns the named service's deployments, newest first.
func (s *SQLite) ListDeployments(ctx context.Context, service string) ([]spec.Deployment, error) {
	var out []spec.Deployment
	err := s.read(ctx, func(tx *sql.Tx) error {
		sid, err := serviceID(ctx, tx, service)
		if err != nil {
			return err
		}
		out, err = queryDeployments(ctx, tx, `WHERE service_id = ? ORDER BY number DESC`, sid)
		return err
	})
	if err != nil {
		return nil, wrap(err, "listing deployments of service %q", service)
	}
	return out, nil
}

// queryDeployments returns the deployments a WHERE (and ORDER BY) clause
// selects.
func queryDeployments(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]spec.Deployment, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, service_id, number, state, reason, revision_id, source, created_at, updated_at, finished_at
		FROM deployments `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []spec.Deployment{}
	for rows.Next() {
		var d spec.Deployment
		var source, created, updated string
		var finished sql.NullString
		if err := rows.Scan(&d.ID, &d.ServiceID, &d.Number, &d.State, &d.Reason, &d.RevisionID, &source, &created, &updated, &finished); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(source), &d.Source); err != nil {
			return nil, fmt.Errorf("decoding source of deployment %s: %w", d.ID, err)
		}
		if d.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if d.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		if d.FinishedAt, err = parseNullTime(finished); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
