package harness

// This file removes what a benchmark run left in the Docker engine. The
// server does not remove its service's images and build caches when it
// stops, and a benchmark run on a developer's machine must leave nothing
// behind, after Ctrl-C too.

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Docker runs the docker CLI with args (argv, no shell) and returns its
// combined output.
func Docker(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "docker", args...).CombinedOutput()
}

// Leftovers name what a run made in the engine. Empty fields and
// elements match nothing.
type Leftovers struct {
	// Installation is the server's installation ID: its containers carry
	// the label io.apprun.installation.
	Installation string
	// Services are the IDs of the services the run created: their
	// containers (label io.apprun.service), images (apprun/app-ID) and the
	// builder's cache volumes (named after the image, apprun_app-ID-...).
	Services []string
	// Containers are containers the benchmark started itself, by name.
	Containers []string
	// Network is the bridge network of the run.
	Network string
}

// Remove removes the leftovers: containers first (they hold the images
// and the network), then images, volumes and the network. It goes on past
// a failure and returns the failures to remove images or the network (a
// network that is already gone is none); `docker rm -f` and `volume rm -f`
// failures are not reported, as in a run cut short they are the normal
// case. Run it with a fresh context, so it works after Ctrl-C.
func (l Leftovers) Remove(ctx context.Context) error {
	var errs []error
	empty := func(s string) bool { return s == "" }
	ids := slices.DeleteFunc(slices.Clone(l.Containers), empty)
	l.Services = slices.DeleteFunc(slices.Clone(l.Services), empty)
	filters := []string{}
	if l.Installation != "" {
		filters = append(filters, "label=io.apprun.installation="+l.Installation)
	}
	for _, svc := range l.Services {
		filters = append(filters, "label=io.apprun.service="+svc)
	}
	for _, f := range filters {
		if out, err := Docker(ctx, "ps", "-aq", "--filter", f); err == nil {
			ids = append(ids, strings.Fields(string(out))...)
		}
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		_, _ = Docker(ctx, append([]string{"rm", "-f"}, slices.Compact(ids)...)...)
	}
	for _, svc := range l.Services {
		repo := "apprun/app-" + svc
		// By ID: an image listed without a tag (REPO:<none>) has no name
		// to remove it by, and -f removes every tag of an ID.
		if out, err := Docker(ctx, "images", "-q", "--no-trunc", repo); err == nil {
			if imgs := slices.Compact(slices.Sorted(slices.Values(strings.Fields(string(out))))); len(imgs) > 0 {
				if out, err := Docker(ctx, append([]string{"rmi", "-f"}, imgs...)...); err != nil {
					errs = append(errs, fmt.Errorf("removing the images of %s: %v: %s", repo, err, out))
				}
			}
		}
		if out, err := Docker(ctx, "volume", "ls", "-q", "--filter", "name=apprun_app-"+svc); err == nil {
			if vols := strings.Fields(string(out)); len(vols) > 0 {
				_, _ = Docker(ctx, append([]string{"volume", "rm", "-f"}, vols...)...)
			}
		}
	}
	if l.Network != "" {
		if out, err := Docker(ctx, "network", "rm", l.Network); err != nil && !strings.Contains(string(out), "not found") {
			errs = append(errs, fmt.Errorf("removing network %s: %v: %s", l.Network, err, out))
		}
	}
	return errors.Join(errs...)
}
