package bootstrap

import (
	"context"
	"fmt"

	pubbldr "github.com/buildpacks/pack/builder"
	packclient "github.com/buildpacks/pack/pkg/client"
	"github.com/buildpacks/pack/pkg/dist"
	"github.com/buildpacks/pack/pkg/image"
	"github.com/buildpacks/pack/pkg/logging"

	"github.com/apprun/apprun/builder/buildpacks"
)

// builderDescription is shown by `pack builder inspect`.
const builderDescription = "apprun: Debian bookworm with apprun's Go, Node.js, Python, static and Procfile buildpacks, made offline by apprun builder bootstrap"

// builderConfig is the builder config pack takes: the build and run images
// by name, the lifecycle as a local tarball and the buildpacks as local
// directories, so that nothing is fetched.
func builderConfig(buildImage, runImage, lifecycleTgz, buildpacksDir, version string) pubbldr.Config {
	cfg := pubbldr.Config{
		Description: builderDescription,
		Build:       pubbldr.BuildConfig{Image: buildImage},
		Run:         pubbldr.RunConfig{Images: []pubbldr.RunImageConfig{{Image: runImage}}},
		Lifecycle:   pubbldr.LifecycleConfig{URI: lifecycleTgz},
	}
	for _, id := range buildpacks.IDs() {
		cfg.Buildpacks = append(cfg.Buildpacks, pubbldr.ModuleConfig{
			ModuleInfo: dist.ModuleInfo{ID: id, Version: version},
			ImageOrURI: dist.ImageOrURI{BuildpackURI: dist.BuildpackURI{URI: buildpackDir(buildpacksDir, id)}},
		})
	}
	for _, group := range buildpacks.Order() {
		var entry dist.OrderEntry
		for _, e := range group {
			entry.Group = append(entry.Group, dist.ModuleRef{
				ModuleInfo: dist.ModuleInfo{ID: e.ID, Version: version},
				Optional:   e.Optional,
			})
		}
		cfg.Order = append(cfg.Order, entry)
	}
	return cfg
}

// makeBuilder creates the builder image with pack's Go API. pack's output
// goes to the debug log, and its tail into the error.
func (r *runner) makeBuilder(ctx context.Context, s step) error {
	out := newLineLogger(r.log, "pack", 4096)
	pc, err := packclient.NewClient(
		packclient.WithDockerClient(r.docker),
		packclient.WithLogger(logging.NewLogWithWriters(out, out, logging.WithVerbose())),
	)
	if err != nil {
		return fmt.Errorf("starting pack: %w", err)
	}
	err = pc.CreateBuilder(ctx, packclient.CreateBuilderOptions{
		BuilderName:     s.name,
		Config:          builderConfig(r.cfg.BuildImage, r.cfg.RunImage, r.stepName(stepLifecycle), r.buildpacksDir, buildpacks.Version),
		Labels:          map[string]string{HashLabel: s.hash},
		PullPolicy:      image.PullNever,
		RelativeBaseDir: r.scratch,
		TempDirectory:   r.scratch,
	})
	out.flush()
	if err != nil {
		return fmt.Errorf("pack create builder: %w: %s", err, out.tail.String())
	}
	return nil
}
