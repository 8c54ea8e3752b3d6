package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

// cleanupTimeout bounds the removal of a half-started container. It runs
// on a context detached from the caller's, since the caller's ending is
// often why the start failed.
const cleanupTimeout = 30 * time.Second

// createTimeout bounds a create request, which the caller cannot cancel
// (see create).
const createTimeout = time.Minute

// abandonAfter is how long a cancelled Start still waits for its create
// request, to remove the container itself.
const abandonAfter = 5 * time.Second

// Start creates the container hardened (see createOptions), joins its
// further networks, starts it and returns it with its address. On any
// failure it removes what it created.
func (e *Engine) Start(ctx context.Context, s deployer.InstanceSpec) (deployer.Instance, error) {
	opts, err := createOptions(s, e.cpus(ctx))
	if err != nil {
		return deployer.Instance{}, fmt.Errorf("starting container %s: %w", s.Name, err)
	}
	created, err := e.create(ctx, opts)
	if err != nil {
		switch {
		case cerrdefs.IsConflict(err):
			err = fmt.Errorf("%w: %w", spec.ErrConflict, err)
		case isNotFound(err):
			err = notFound(err)
		}
		return deployer.Instance{}, fmt.Errorf("starting container %s: creating: %w", s.Name, err)
	}
	log := e.log.With("container", s.Name, "id", short(created.ID))
	for _, w := range created.Warnings {
		log.Warn("engine warning at create", "warning", w)
	}
	fail := func(step string, err error) (deployer.Instance, error) {
		e.discard(created.ID, log)
		if isNotFound(err) && !errors.Is(err, spec.ErrNotFound) {
			// Engine 20.10 checks the networks only at start.
			err = notFound(err)
		}
		return deployer.Instance{}, fmt.Errorf("starting container %s: %s: %w", s.Name, step, err)
	}
	for _, n := range s.Networks {
		_, err := e.cli.NetworkConnect(ctx, n, client.NetworkConnectOptions{
			Container:      created.ID,
			EndpointConfig: &network.EndpointSettings{Aliases: s.Aliases},
		})
		if err != nil {
			return fail("joining network "+n, err)
		}
	}
	if _, err := e.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return fail("starting", err)
	}
	inst, err := e.Inspect(ctx, created.ID)
	if err != nil {
		return fail("inspecting", err)
	}
	log.Debug("started", "ip", inst.IP)
	return inst, nil
}

// discard removes a container Start created and could not finish.
func (e *Engine) discard(id string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := e.Remove(ctx, id); err != nil {
		log.Warn("removing the container of a failed start", "err", err)
	}
}

// create sends the create request on a context the caller's cannot
// cancel: the engine goes on creating after the client hangs up, so a
// cancelled request could leave a container nobody knows the ID of (a
// test saw it happen). If ctx ends first, create waits up to
// abandonAfter for the request and removes what it made; past that it
// returns, and its goroutine (which Close waits for) removes the
// container when the request completes.
func (e *Engine) create(ctx context.Context, opts client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	type result struct {
		res client.ContainerCreateResult
		err error
	}
	done, abandoned := make(chan result), make(chan struct{})
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		defer cancel()
		res, err := e.cli.ContainerCreate(cctx, opts)
		select {
		case done <- result{res, err}:
		case <-abandoned:
			if err == nil {
				e.discard(res.ID, e.log.With("container", opts.Name))
			}
		}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
	}
	// Wait a little for the engine to finish, so that Start, when it
	// returns, has left nothing behind; an engine slower than that gets
	// the cleanup later.
	t := time.NewTimer(abandonAfter)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err == nil {
			e.discard(r.res.ID, e.log.With("container", opts.Name))
		}
	case <-t.C:
		close(abandoned)
	}
	return client.ContainerCreateResult{}, ctx.Err()
}

// Stop asks the engine to stop the container with grace between SIGTERM
// and SIGKILL, rounded up to whole seconds (the API's unit).
func (e *Engine) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := max(0, int(math.Ceil(grace.Seconds())))
	_, err := e.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("stopping container %s: %w", id, err)
	}
	return nil
}

// Remove removes the container, killing it if it runs, with the anonymous
// volumes an image's VOLUME lines made (nothing else could use them).
func (e *Engine) Remove(ctx context.Context, id string) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	switch {
	case err == nil, isNotFound(err):
		return nil
	case cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"):
		// Another caller is removing it: it will be gone.
		return nil
	}
	return fmt.Errorf("removing container %s: %w", id, err)
}

// Inspect returns the container as the engine reports it.
func (e *Engine) Inspect(ctx context.Context, id string) (deployer.Instance, error) {
	res, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		if isNotFound(err) {
			return deployer.Instance{}, fmt.Errorf("inspecting container %s: %w", id, notFound(err))
		}
		return deployer.Instance{}, fmt.Errorf("inspecting container %s: %w", id, err)
	}
	return fromInspect(res.Container), nil
}

func fromInspect(c container.InspectResponse) deployer.Instance {
	inst := deployer.Instance{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/")}
	if c.Config != nil {
		inst.Image = c.Config.Image
		inst.Labels = c.Config.Labels
	}
	if st := c.State; st != nil {
		inst.State = string(st.Status)
		inst.ExitCode = st.ExitCode
		inst.OOMKilled = st.OOMKilled
		inst.StartedAt = parseTime(st.StartedAt)
		inst.FinishedAt = parseTime(st.FinishedAt)
	}
	if inst.Running() && c.NetworkSettings != nil {
		inst.IP = ipOn(c.NetworkSettings.Networks, primaryNetwork(inst.Labels, c.HostConfig))
	}
	return inst
}

// List returns apprun's containers, from the engine's list: ExitCode comes
// from the status line; OOMKilled, StartedAt and FinishedAt only Inspect
// reports.
func (e *Engine) List(ctx context.Context) ([]deployer.Instance, error) {
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", deployer.LabelManaged+"=true"),
	})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := make([]deployer.Instance, 0, len(res.Items))
	for _, c := range res.Items {
		inst := deployer.Instance{
			ID:       c.ID,
			Image:    c.Image,
			Labels:   c.Labels,
			State:    string(c.State),
			ExitCode: exitCode(c.Status),
			// The list has no start time; the creation time orders
			// instances well enough for the reconciler (newest first out).
			StartedAt: time.Unix(c.Created, 0),
		}
		if len(c.Names) > 0 {
			inst.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		if inst.Running() && c.NetworkSettings != nil {
			mode := container.NetworkMode(c.HostConfig.NetworkMode)
			inst.IP = ipOn(c.NetworkSettings.Networks, primaryNetwork(c.Labels, &container.HostConfig{NetworkMode: mode}))
		}
		out = append(out, inst)
	}
	return out, nil
}

// primaryNetwork is the network Start named primary: its label, else the
// network the container was created on.
func primaryNetwork(labels map[string]string, host *container.HostConfig) string {
	if n := labels[labelPrimary]; n != "" {
		return n
	}
	if host != nil {
		return string(host.NetworkMode)
	}
	return ""
}

func ipOn(nets map[string]*network.EndpointSettings, name string) string {
	if ep := nets[name]; ep != nil && ep.IPAddress.IsValid() {
		return ep.IPAddress.String()
	}
	return ""
}

var exitedRE = regexp.MustCompile(`^Exited \((-?\d+)\)`)

// exitCode reads the code of a status line such as "Exited (137) 3
// minutes ago"; the list endpoint has no field for it.
func exitCode(status string) int {
	if m := exitedRE.FindStringSubmatch(status); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// parseTime reads the engine's RFC 3339 times; its "never" is year 1,
// which becomes the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// ImageUser returns the user the image's config names ("" for root).
func (e *Engine) ImageUser(ctx context.Context, image string) (string, error) {
	res, err := e.cli.ImageInspect(ctx, image)
	if err != nil {
		if isNotFound(err) {
			return "", fmt.Errorf("inspecting image %s: %w", image, notFound(err))
		}
		return "", fmt.Errorf("inspecting image %s: %w", image, err)
	}
	if res.Config == nil {
		return "", nil
	}
	return res.Config.User, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// RemoveImage removes an image reference (a revision's tag) and, when it
// was the last, the image. An image a container still uses is refused
// with an error wrapping spec.ErrConflict; a missing one is success.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
	switch {
	case err == nil, isNotFound(err):
		return nil
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("removing image %s: %w: %v", ref, spec.ErrConflict, err)
	}
	return fmt.Errorf("removing image %s: %w", ref, err)
}
