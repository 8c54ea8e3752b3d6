package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

// optionICC is the bridge driver's switch for traffic between the
// containers of one network; "false" makes a network Isolated. The host
// still reaches every container through the bridge.
const optionICC = "com.docker.network.bridge.enable_icc"

// EnsureNetwork creates the bridge network n unless a network of that name
// exists with the same options, and returns its ID.
//
// Docker keys networks by ID and, before API 1.44, lets two networks share
// a name (the old CheckDuplicate flag was best effort, and the client no
// longer sends it), and Docker 20.10 does create several when callers race.
// So after a create, EnsureNetwork lists the networks of that name: every
// caller picks the same winner (the oldest, then the smallest ID) and
// removes the others (see dedupe). Within one Engine calls are serialised
// and all get the one ID. Across processes the engine may show a newer
// network before an older one, so a racer can return the ID of a
// duplicate that another racer removes a moment later; the name always
// leads to the survivor, which is why InstanceSpec names networks.
func (e *Engine) EnsureNetwork(ctx context.Context, n deployer.NetworkSpec) (string, error) {
	if err := checkNetworkName(n.Name); err != nil {
		return "", fmt.Errorf("ensuring network %q: %w", n.Name, err)
	}
	e.netMu.Lock()
	defer e.netMu.Unlock()

	existing, err := e.networksNamed(ctx, n.Name)
	if err != nil {
		return "", err
	}
	if len(existing) > 0 {
		return e.adopt(n, existing)
	}
	labels := maps.Clone(n.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[deployer.LabelManaged] = "true"
	opts := client.NetworkCreateOptions{Driver: "bridge", Internal: n.Internal, Labels: labels}
	if n.Isolated {
		opts.Options = map[string]string{optionICC: "false"}
	}
	created, err := e.cli.NetworkCreate(ctx, n.Name, opts)
	if err != nil {
		// Newer engines refuse a duplicate name, and an engine short of
		// address pools refuses a racer the pool another took: either way,
		// when the network exists now, someone else won.
		if existing, lerr := e.networksNamed(ctx, n.Name); lerr == nil && len(existing) > 0 {
			return e.adopt(n, existing)
		}
		return "", fmt.Errorf("creating network %s: %w", n.Name, err)
	}
	e.log.Info("created network", "network", n.Name, "id", short(created.ID))
	existing, err = e.networksNamed(ctx, n.Name)
	if err != nil {
		return "", err
	}
	if len(existing) <= 1 {
		return created.ID, nil
	}
	e.dedupe(ctx, existing)
	return e.adopt(n, existing)
}

// dedupe removes every network of existing (all of one name) but the
// winner. A racer whose list saw only its own network has returned it,
// though another racer's older network may show up a moment later; so
// each racer that sees several removes all the losers, not only its own,
// and every caller ends up on the winner by name. A loser with containers
// attached is kept (and logged): removing it would cut them off.
func (e *Engine) dedupe(ctx context.Context, existing []network.Summary) {
	w := winner(existing)
	for _, n := range existing {
		if n.ID == w.ID || n.Labels[deployer.LabelManaged] != "true" {
			continue
		}
		log := e.log.With("network", n.Name, "kept", short(w.ID), "removed", short(n.ID))
		res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
			All: true, Filters: make(client.Filters).Add("network", n.ID),
		})
		if err != nil || len(res.Items) > 0 {
			log.Warn("a duplicate network has containers attached; keeping it", "err", err)
			continue
		}
		if _, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			log.Warn("removing a duplicate network", "err", err)
			continue
		}
		log.Info("removed a duplicate network made by a concurrent EnsureNetwork")
	}
}

// adopt returns the winner among the networks named n.Name, if its options
// are n's: a network that, say, lets containers talk while n wants them
// isolated must not be taken for it.
func (e *Engine) adopt(n deployer.NetworkSpec, existing []network.Summary) (string, error) {
	w := winner(existing)
	var diffs []string
	if w.Driver != "bridge" {
		diffs = append(diffs, fmt.Sprintf("driver %s, want bridge", w.Driver))
	}
	if w.Internal != n.Internal {
		diffs = append(diffs, fmt.Sprintf("internal %v, want %v", w.Internal, n.Internal))
	}
	if isolated := w.Options[optionICC] == "false"; isolated != n.Isolated {
		diffs = append(diffs, fmt.Sprintf("isolated %v, want %v", isolated, n.Isolated))
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("network %s exists with other options (%s): %w",
			n.Name, strings.Join(diffs, ", "), spec.ErrConflict)
	}
	return w.ID, nil
}

// winner is the network every racer agrees to keep: the oldest, then the
// smallest ID.
func winner(nets []network.Summary) *network.Summary {
	if len(nets) == 0 {
		return nil
	}
	w := slices.MinFunc(nets, func(a, b network.Summary) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return &w
}

// networksNamed returns the networks called exactly name; the engine's
// name filter also matches substrings.
func (e *Engine) networksNamed(ctx context.Context, name string) ([]network.Summary, error) {
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return nil, fmt.Errorf("listing networks named %s: %w", name, err)
	}
	return slices.DeleteFunc(res.Items, func(n network.Summary) bool { return n.Name != name }), nil
}

// RemoveNetwork removes the network called name (every one, should a race
// have left two). It refuses, wrapping spec.ErrConflict, while containers
// are attached, running or not: it never disconnects them. It refuses too
// a network apprun did not create.
func (e *Engine) RemoveNetwork(ctx context.Context, name string) error {
	if err := checkNetworkName(name); err != nil {
		return fmt.Errorf("removing network %q: %w", name, err)
	}
	e.netMu.Lock()
	defer e.netMu.Unlock()
	nets, err := e.networksNamed(ctx, name)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if n.Labels[deployer.LabelManaged] != "true" {
			return fmt.Errorf("removing network %s: it was not created by apprun (no %s label)", name, deployer.LabelManaged)
		}
		// The engine's network inspect shows only running containers;
		// the container list also finds stopped ones still attached.
		res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
			All:     true,
			Filters: make(client.Filters).Add("network", n.ID),
		})
		if err != nil {
			return fmt.Errorf("removing network %s: listing its containers: %w", name, err)
		}
		if len(res.Items) > 0 {
			var names []string
			for _, c := range res.Items {
				if len(c.Names) > 0 {
					names = append(names, strings.TrimPrefix(c.Names[0], "/"))
				}
			}
			return fmt.Errorf("removing network %s: %d containers are attached (%s): %w",
				name, len(res.Items), strings.Join(names, ", "), spec.ErrConflict)
		}
		if _, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			if cerrdefs.IsConflict(err) || cerrdefs.IsPermissionDenied(err) {
				// A container joined since the list: "has active endpoints".
				err = fmt.Errorf("%w: %w", spec.ErrConflict, err)
			}
			return fmt.Errorf("removing network %s: %w", name, err)
		}
		e.log.Info("removed network", "network", name, "id", short(n.ID))
	}
	return nil
}

// checkNetworkName refuses the engine's predefined networks: apprun never
// creates, adopts or removes them.
func checkNetworkName(name string) error {
	switch name {
	case "":
		return errors.New("a network name is required")
	case "bridge", "host", "none", "default":
		return fmt.Errorf("%q is the engine's own network", name)
	}
	return nil
}
