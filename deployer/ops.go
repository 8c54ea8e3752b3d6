package deployer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
)

// Scale sets the number of instances of process types (`apprun scale
// web=3 worker=1`) and has the reconciler converge at once. A process type
// the serving revision does not declare is refused, naming those it does.
func (d *Deployer) Scale(ctx context.Context, service string, formation map[string]int) (spec.Service, error) {
	svc, err := d.cfg.Store.GetService(ctx, service)
	if err != nil {
		return spec.Service{}, err
	}
	var ps spec.Problems
	for _, t := range slices.Sorted(maps.Keys(formation)) {
		if err := spec.ValidateProcessType(t); err != nil {
			ps.Add("formation."+t, "%v", err)
		} else if n := formation[t]; n < 0 || n > spec.MaxInstancesLimit {
			ps.Add("formation."+t, "must be between 0 and %d, got %d", spec.MaxInstancesLimit, n)
		}
	}
	if rev, ok, err := d.currentRevision(ctx, svc); err != nil {
		return spec.Service{}, err
	} else if ok {
		types := processTypes(rev)
		for _, t := range slices.Sorted(maps.Keys(formation)) {
			if !slices.Contains(types, t) && spec.ValidateProcessType(t) == nil {
				ps.Add("formation."+t, "revision #%d of %s has no process type %q (it has %s)", rev.Number, svc.Name, t, strings.Join(types, ", "))
			}
		}
	}
	if err := ps.Err(); err != nil {
		return spec.Service{}, err
	}
	svc, err = d.cfg.Store.UpdateService(ctx, service, store.ServiceUpdate{Mutate: func(s *spec.Service) error {
		if s.Formation == nil {
			s.Formation = map[string]int{}
		}
		maps.Copy(s.Formation, formation)
		return nil
	}})
	if err != nil {
		return spec.Service{}, err
	}
	if _, ok := formation[spec.WebProcess]; ok {
		d.setWarm(svc.Name, 0)
	}
	d.log.Info("scaled", "service", svc.Name, "formation", svc.Formation)
	d.Kick()
	return svc, nil
}

// InstanceStatus is one instance as `apprun ps` shows it.
type InstanceStatus struct {
	ID         string
	Name       string
	Process    string
	RevisionID string
	// State is the engine's ("running", "exited", ...).
	State string
	// Address is where the router reaches a web instance.
	Address string
	// Ready instances passed their health check and take requests.
	Ready     bool
	StartedAt time.Time
	// Restarts counts the crashes in a row of the instance's process
	// type (reset by a successful deployment).
	Restarts int
}

// Instances lists a service's instances, web first, then by name.
func (d *Deployer) Instances(ctx context.Context, service string) ([]InstanceStatus, error) {
	svc, err := d.cfg.Store.GetService(ctx, service)
	if err != nil {
		return nil, err
	}
	all, err := d.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	out := []InstanceStatus{}
	for _, i := range ofService(all, svc.ID) {
		s := InstanceStatus{
			ID: i.ID, Name: i.Name, Process: i.Labels[LabelProcess], RevisionID: i.Labels[LabelRevision],
			State: i.State, StartedAt: i.StartedAt,
		}
		d.mu.Lock()
		h := d.health[i.ID]
		s.Ready = h != nil && h.ready && !d.stopping[i.ID] && d.retired[i.ID].IsZero()
		if b := d.restarts[svc.ID][s.Process]; b != nil {
			s.Restarts = b.count
		}
		d.mu.Unlock()
		if i.Running() && s.Process == spec.WebProcess {
			if addrs := d.instanceAddrs(i); len(addrs) > 0 {
				s.Address = addrs[0]
			}
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b InstanceStatus) int {
		if (a.Process == spec.WebProcess) != (b.Process == spec.WebProcess) {
			if a.Process == spec.WebProcess {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// Undeploy takes a deleted service out of the router and stops its
// instances in the background; the reconciler removes anything left.
func (d *Deployer) Undeploy(ctx context.Context, svc spec.Service) error {
	d.unpublish(svc)
	all, err := d.list(ctx)
	if err != nil {
		return fmt.Errorf("listing instances: %w", err)
	}
	for _, i := range ofService(all, svc.ID) {
		d.stopInBackground(i, "the service was deleted")
	}
	d.mu.Lock()
	delete(d.warm, svc.Name)
	delete(d.restarts, svc.ID)
	d.mu.Unlock()
	return nil
}
