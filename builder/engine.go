package builder

import (
	"context"
	"io"
	"maps"
	"slices"

	packclient "github.com/buildpacks/pack/pkg/client"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// labelBuild marks every container of one build with the build's id, so
// whatever a stopped build leaves behind can be found and removed.
const labelBuild = "io.apprun.build"

// labelService names the service on containers and Dockerfile images.
const labelService = "io.apprun.service"

// engine is what the builder itself asks of the Docker engine, beside
// what pack does with it: Dockerfile builds, tags, and cleaning up after a
// build that failed or was stopped. *client.Client implements it.
type engine interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	ImageRemove(ctx context.Context, image string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerRemove(ctx context.Context, container string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	VolumeRemove(ctx context.Context, volumeID string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
}

// limitedDocker is the Docker client handed to pack for one build. pack
// has no option for resource limits, and its lifecycle containers run the
// app's build commands, so every container it creates gets the build's
// CPU, memory (no swap) and process limits, no-new-privileges, the build's
// label, and never privileged mode.
type limitedDocker struct {
	packclient.DockerClient
	limits limits
	labels map[string]string
}

func (d *limitedDocker) ContainerCreate(ctx context.Context, opts client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	// pack keeps its configs per phase; copies keep our changes out of
	// them whatever pack does with them later.
	hc := new(container.HostConfig)
	if opts.HostConfig != nil {
		*hc = *opts.HostConfig
	}
	hc.Privileged = false
	hc.Memory = d.limits.memoryBytes
	hc.MemorySwap = d.limits.memoryBytes
	hc.NanoCPUs = d.limits.nanoCPUs
	pids := d.limits.pids
	hc.PidsLimit = &pids
	if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		hc.SecurityOpt = append(slices.Clone(hc.SecurityOpt), "no-new-privileges")
	}
	opts.HostConfig = hc

	cfg := new(container.Config)
	if opts.Config != nil {
		*cfg = *opts.Config
	}
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, d.labels)
	cfg.Labels = labels
	opts.Config = cfg
	return d.DockerClient.ContainerCreate(ctx, opts)
}
