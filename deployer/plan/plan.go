package plan

import (
	"slices"
	"strings"
	"time"
)

// Instance is one container of the service as the reconciler sees it.
type Instance struct {
	ID       string
	Revision string
	Process  string
	// Running is false for a container that exited (or was created and
	// never started).
	Running bool
	// Ready instances passed their health check and may be routed.
	Ready bool
	// InFlight is the number of requests the router has at the instance.
	InFlight int
	// RetiredAt is when the instance was first taken out of the routes
	// (zero if it never was): its drain started then.
	RetiredAt time.Time
	// StartedAt orders instances: the newest are retired first when there
	// are too many, as they have served least.
	StartedAt time.Time
}

// Input is what the service should run and what runs.
type Input struct {
	// Revision is the revision that should serve; "" means none (nothing
	// was deployed, or every deployment failed).
	Revision string
	// Desired is the number of instances per process type of Revision.
	Desired   map[string]int
	Instances []Instance
	// NotBefore is, per process type, the earliest time a replacement may
	// start (the crash back-off).
	NotBefore map[string]time.Time
	// DrainTimeout bounds how long a retired instance keeps its in-flight
	// requests before it is stopped anyway.
	DrainTimeout time.Duration
	Now          time.Time
}

// Actions are what the reconciler does, in this order: publish the routes
// without Retire, stop and remove Stop, remove Clear, start Start.
type Actions struct {
	// Start is the number of instances to start per process type.
	Start map[string]int
	// Retire are running instances that must take no new requests: of
	// another revision, of a process type no longer wanted, or beyond the
	// desired count. Those of them in Stop are done draining.
	Retire []string
	// Stop are retired instances with no request left (or whose drain
	// timed out): stop them (SIGTERM, grace, SIGKILL) and remove them.
	Stop []string
	// Clear are containers that are not running: remove them.
	Clear []string
	// Crashed are the cleared instances of the current revision, which
	// count toward the process type's back-off.
	Crashed []Instance
}

// Compute decides the actions for one service.
func Compute(in Input) Actions {
	a := Actions{Start: map[string]int{}}
	keep := map[string][]Instance{}
	retire := func(i Instance) {
		a.Retire = append(a.Retire, i.ID)
		if i.InFlight == 0 || (!i.RetiredAt.IsZero() && in.Now.Sub(i.RetiredAt) >= in.DrainTimeout) {
			a.Stop = append(a.Stop, i.ID)
		}
	}
	for _, i := range in.Instances {
		switch {
		case !i.Running:
			a.Clear = append(a.Clear, i.ID)
			if in.Revision != "" && i.Revision == in.Revision {
				a.Crashed = append(a.Crashed, i)
			}
		case in.Revision == "" || i.Revision != in.Revision || in.Desired[i.Process] == 0:
			retire(i)
		case !i.RetiredAt.IsZero():
			// Once retired, an instance never comes back: the routes
			// already dropped it and the drain has begun.
			retire(i)
		default:
			keep[i.Process] = append(keep[i.Process], i)
		}
	}
	for _, p := range sortedKeys(in.Desired) {
		want, have := in.Desired[p], keep[p]
		if len(have) > want {
			// Retire the surplus: unready ones first (they serve nothing),
			// then the newest.
			slices.SortStableFunc(have, func(x, y Instance) int {
				if x.Ready != y.Ready {
					if x.Ready {
						return -1
					}
					return 1
				}
				if c := x.StartedAt.Compare(y.StartedAt); c != 0 {
					return c
				}
				return strings.Compare(x.ID, y.ID)
			})
			for _, i := range have[want:] {
				retire(i)
			}
			continue
		}
		if n := want - len(have); n > 0 && !in.Now.Before(in.NotBefore[p]) {
			a.Start[p] = n
		}
	}
	return a
}

// Backoff is the wait before the n-th restart in a row of a crashing
// process type: 1 s doubling to 5 min, as Kubernetes' CrashLoopBackOff.
func Backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
