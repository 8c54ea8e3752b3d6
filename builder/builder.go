package builder

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	packclient "github.com/buildpacks/pack/pkg/client"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun/spec"
)

// Source is what to build: a directory on disk, already checked out
// (source) or extracted from an upload (ExtractArchive). The build reads it
// and never writes to it.
type Source struct {
	Dir string
}

// Options are one build's settings.
type Options struct {
	// Service names the service (its name or id): builds of one service
	// run one at a time, and a newer one supersedes one still queued.
	Service string
	// Image is the tag to produce, e.g. apprun/app-<service-id>:<n>.
	Image string
	// PreviousImage is the service's last built image, if any: the
	// buildpacks reuse its layers that did not change.
	PreviousImage string
	// Env is the build environment: the buildpacks' platform env, or the
	// Dockerfile's build args.
	Env map[string]string
	// Secrets are the service's secrets, by name. Their values are masked
	// in the log. They reach the build only with SecretsInEnv, which
	// adds them to Env; a Dockerfile build then sees them as build args,
	// which the image history keeps.
	Secrets      map[string]string
	SecretsInEnv bool
	// Log receives the build log, one line per Write, secrets masked. It
	// is not written to after Build returns. A slow writer slows the
	// build; one that fails is no longer written to.
	Log io.Writer
	// Network overrides Config.Network for this build.
	Network string
}

// Result is a built image.
type Result struct {
	// Image is the tag that was produced (Options.Image).
	Image string
	// Digest is the image's ID in the engine (sha256:...): images are not
	// pushed, so there is no registry digest.
	Digest string
	// Kind is KindBuildpacks or KindDockerfile.
	Kind     string
	Duration time.Duration
	// Processes are the process types the buildpacks declared (from the
	// image's io.buildpacks.build.metadata label); none for a Dockerfile.
	Processes []spec.Process
}

// ErrMissingImage is a builder, run or lifecycle image that is not on the
// engine; `apprun builder bootstrap` makes apprun's.
var ErrMissingImage = errors.New("image missing")

// Builder turns sources into images on one Docker engine.
type Builder struct {
	cfg        Config
	log        *slog.Logger
	engine     engine
	packDocker packclient.DockerClient
	closeAll   func() error
	sched      *scheduler
	volumeKey  string
}

// New returns a Builder for the engine at cfg.DockerHost (or the
// environment's). It does not contact the engine; Check does.
func New(cfg Config, log *slog.Logger) (*Builder, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []client.Opt{client.FromEnv}
	if cfg.DockerHost != "" {
		opts = append(opts, client.WithHost(cfg.DockerHost))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	key, err := loadVolumeKey(cfg.PackHome)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return &Builder{
		cfg:        cfg,
		log:        log,
		engine:     cli,
		packDocker: cli,
		closeAll:   cli.Close,
		sched:      newScheduler(cfg.MaxConcurrent),
		volumeKey:  key,
	}, nil
}

// Close cancels the builds in progress, waits for them to stop, and
// releases the engine connection.
func (b *Builder) Close() error {
	b.sched.close()
	return b.closeAll()
}

// Build builds src into opts.Image and returns the image. It waits for the
// service's earlier build, for a free slot among Config.MaxConcurrent, and
// shares the build with an identical request already under way. On failure
// the error is a *BuildError carrying the log's tail, nothing of the build
// is left tagged, and errors.Is tells ErrSuperseded, ErrCancelled,
// ErrTimeLimit, ErrNothingDetected, ErrUnsafeSource and ErrBuildFailed
// apart. A request that never ran (superseded, or given up while queued)
// fails with a plain error wrapping ErrSuperseded or ErrCancelled.
func (b *Builder) Build(ctx context.Context, src Source, opts Options) (Result, error) {
	network, err := b.checkOptions(&src, opts)
	if err != nil {
		return Result{}, err
	}
	key, err := requestKey(src, opts, network)
	if err != nil {
		return Result{}, err
	}
	return b.sched.do(ctx, opts.Service, key, opts.Log, func(ctx context.Context, w io.Writer) (Result, error) {
		return b.build(ctx, src, opts, network, w)
	})
}

func (b *Builder) checkOptions(src *Source, opts Options) (network string, err error) {
	if opts.Service == "" {
		return "", errors.New("build: a service is required")
	}
	if opts.Image == "" || strings.ContainsAny(opts.Image, " \t\r\n") || strings.Contains(opts.Image, "@") {
		return "", fmt.Errorf("build: %q is not an image tag", opts.Image)
	}
	for name := range opts.Env {
		if err := spec.ValidateEnvName(name); err != nil {
			return "", fmt.Errorf("build env %q: %w", name, err)
		}
	}
	network = cmp.Or(opts.Network, b.cfg.Network)
	if err := checkNetwork(network); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	if src.Dir == "" {
		return "", errors.New("build: a source directory is required")
	}
	if src.Dir, err = filepath.Abs(src.Dir); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	return network, nil
}

// checkNetwork refuses the networks that would give a build the host's or
// another container's network namespace.
func checkNetwork(n string) error {
	if n == "" || n == "host" || strings.HasPrefix(n, "container:") {
		return fmt.Errorf("network %q is not allowed for builds: use none, bridge or a network's name", n)
	}
	return nil
}

// job is one build under way.
type job struct {
	id         string // labels the build's containers
	dir        string
	opts       Options
	network    string
	dockerfile string
	log        *buildLog
}

// buildEnv is the environment the build sees.
func (j *job) buildEnv() map[string]string {
	env := maps.Clone(j.opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	if j.opts.SecretsInEnv {
		maps.Copy(env, j.opts.Secrets)
	}
	return env
}

// build runs one build within the time limit, and on failure removes what
// it left behind.
func (b *Builder) build(ctx context.Context, src Source, opts Options, network string, w io.Writer) (Result, error) {
	start := time.Now()
	limit := b.cfg.TimeLimit
	ctx, cancel := context.WithTimeoutCause(ctx, limit, &timeLimitError{limit: limit})
	defer cancel()
	j := &job{
		id:      strings.ToLower(rand.Text()),
		dir:     src.Dir,
		opts:    opts,
		network: network,
		log:     newBuildLog(w, slices.Collect(maps.Values(opts.Secrets))),
	}
	defer j.log.Close()
	log := b.log.With("service", opts.Service, "image", opts.Image, "build", j.id)

	before := b.imageID(ctx, opts.Image)
	res, err := b.run(ctx, j)
	if err == nil {
		res.Duration = time.Since(start)
		j.log.Step("Built %s (%s, %.1fs)", opts.Image, shortID(res.Digest), res.Duration.Seconds())
		log.Info("built", "kind", res.Kind, "id", res.Digest, "duration", res.Duration)
		return res, nil
	}
	if reason := stopReason(ctx); reason != nil {
		err = reason
	}
	tail := j.log.Tail()
	b.cleanup(j, before, log)
	// The whole reason goes in the log, which is all a git push or the
	// dashboard shows; continuation lines are indented as step text is.
	j.log.Step("Build failed: %s", strings.ReplaceAll(err.Error(), "\n", "\n       "))
	log.Info("build failed", "err", err, "duration", time.Since(start))
	return Result{}, &BuildError{Err: fmt.Errorf("building %s: %w", opts.Image, err), Tail: tail}
}

// run checks the source, picks the flow and builds.
func (b *Builder) run(ctx context.Context, j *job) (Result, error) {
	if err := CheckTree(j.dir); err != nil {
		return Result{}, err
	}
	own := b.cfg.BuilderImage == DefaultBuilderImage
	p, err := choose(j.dir, own)
	if err != nil {
		return Result{}, err
	}
	if p.why != "" {
		j.log.Step("%s", p.why)
	}
	if p.kind == KindBuildpacks {
		err := b.buildpacks(ctx, j)
		switch {
		case err == nil:
			return b.result(ctx, j, KindBuildpacks)
		case !errors.Is(err, errNotDetected):
			return Result{}, err
		}
		if p, err = fallback(j.dir); err != nil {
			if !own {
				// What a foreign builder looked for is in its
				// detector's output, in the log above.
				return Result{}, fmt.Errorf("%w (the builder's detection output is in the log)", ErrNothingDetected)
			}
			return Result{}, err
		}
		j.log.Step("%s", p.why)
	}
	j.dockerfile = p.dockerfile
	if _, err := b.dockerfile(ctx, j); err != nil {
		return Result{}, err
	}
	return b.result(ctx, j, KindDockerfile)
}

// result reads the built image back from the engine.
func (b *Builder) result(ctx context.Context, j *job, kind string) (Result, error) {
	img, err := b.engine.ImageInspect(ctx, j.opts.Image)
	if err != nil {
		return Result{}, fmt.Errorf("inspecting %s: %w", j.opts.Image, err)
	}
	res := Result{Image: j.opts.Image, Digest: img.ID, Kind: kind}
	if kind == KindBuildpacks && img.Config != nil {
		res.Processes = processes(img.Config.Labels)
	}
	return res, nil
}

// imageID returns the ID the tag points to, or "" when it does not exist.
func (b *Builder) imageID(ctx context.Context, image string) string {
	img, err := b.engine.ImageInspect(ctx, image)
	if err != nil {
		return ""
	}
	return img.ID
}

// cleanup removes what a failed or stopped build may have left: its
// containers (pack removes its own, unless the engine call itself was cut
// short) and the tag, if the build moved it, which is put back where it
// was. It runs on its own deadline: the build's context may be over.
func (b *Builder) cleanup(j *job, before string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := b.engine.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", labelBuild+"="+j.id),
	})
	if err != nil {
		log.Warn("listing the build's containers", "err", err)
	}
	for _, c := range list.Items {
		_, err := b.engine.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			log.Info("removed a container the build left", "container", c.ID)
		case !isNotFound(err):
			log.Warn("removing a build container", "container", c.ID, "err", err)
		}
	}
	after := b.imageID(ctx, j.opts.Image)
	if after == "" || after == before {
		return
	}
	if _, err := b.engine.ImageRemove(ctx, j.opts.Image, client.ImageRemoveOptions{}); err != nil && !isNotFound(err) {
		log.Warn("removing the failed build's tag", "err", err)
		return
	}
	if before != "" {
		if _, err := b.engine.ImageTag(ctx, client.ImageTagOptions{Source: before, Target: j.opts.Image}); err != nil {
			log.Warn("restoring the previous tag", "err", err)
		}
	}
}

func shortID(id string) string {
	if alg, hex, ok := strings.Cut(id, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return id
}
