package deployer

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/apprun/apprun/spec"
)

// publish gives the router the service's routes: the revision with the
// given instance addresses, the service's verified custom domains and its
// limits. Publishing what was last published is skipped.
func (d *Deployer) publish(ctx context.Context, svc spec.Service, rev spec.Revision, addrs []string) error {
	routes := spec.ServiceRoutes{
		Service:        svc.Name,
		ServiceID:      svc.ID,
		MaxConcurrency: svc.Scaling.MaxConcurrency,
		Revisions:      []spec.RevisionRoutes{{ID: rev.ID, Instances: slices.Sorted(slices.Values(addrs))}},
	}
	domains, err := d.cfg.Store.ListDomains(ctx, svc.Name)
	if err != nil {
		return err
	}
	for _, dom := range domains {
		if dom.Status == spec.DomainVerified {
			routes.Hosts = append(routes.Hosts, dom.Name)
		}
	}
	slices.Sort(routes.Hosts)
	key, _ := json.Marshal(routes)
	d.mu.Lock()
	same := d.published[svc.ID] == string(key)
	d.mu.Unlock()
	if same {
		return nil
	}
	if err := d.cfg.Router.Publish(routes); err != nil {
		return err
	}
	d.mu.Lock()
	d.published[svc.ID] = string(key)
	d.mu.Unlock()
	d.log.Debug("routes published", "service", svc.Name, "revision", rev.ID, "instances", len(addrs))
	return nil
}

// unpublish forgets a service in the router.
func (d *Deployer) unpublish(svc spec.Service) {
	d.cfg.Router.Remove(svc.Name)
	d.mu.Lock()
	delete(d.published, svc.ID)
	d.mu.Unlock()
}

// Poke is the router's call when a request waits for a revision with no
// ready instance (scaled to zero, or every instance starting): it asks for
// a web instance at once. It never blocks the request path.
func (d *Deployer) Poke(service, revision string) {
	d.mu.Lock()
	if d.warm[service] < 1 {
		d.warm[service] = 1
	}
	d.mu.Unlock()
	d.Kick()
}

func (d *Deployer) warmCount(service string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.warm[service]
}

func (d *Deployer) setWarm(service string, n int) {
	d.mu.Lock()
	d.warm[service] = n
	d.mu.Unlock()
}

// revisionOf returns the revision an instance runs, from a cache the
// deployer fills as it reads revisions (they never change).
func (d *Deployer) revisionOf(i Instance) (spec.Revision, bool) {
	id := i.Labels[LabelRevision]
	d.mu.Lock()
	rev, ok := d.revs[id]
	d.mu.Unlock()
	if ok {
		return rev, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rev, err := d.cfg.Store.GetRevision(ctx, i.Labels[LabelName], id)
	if err != nil {
		return spec.Revision{}, false
	}
	d.remember(rev)
	return rev, true
}

func (d *Deployer) remember(rev spec.Revision) {
	d.mu.Lock()
	d.revs[rev.ID] = rev
	d.mu.Unlock()
}
