package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/moby/moby/client"
)

// Result is what Run made: the images by name, the lifecycle tarball, and
// for every output whether it was built, reused or skipped, and how long
// it took.
type Result struct {
	RunImage       string        `json:"runImage"`
	BuildImage     string        `json:"buildImage"`
	LifecycleImage string        `json:"lifecycleImage"`
	BuilderImage   string        `json:"builderImage"`
	Lifecycle      string        `json:"lifecycle"` // the tarball's path
	Outputs        []Output      `json:"outputs"`
	Elapsed        time.Duration `json:"elapsed"`
}

// Built lists the steps that built their output.
func (r Result) Built() []string {
	var out []string
	for _, o := range r.Outputs {
		if o.Action == ActionBuild {
			out = append(out, o.Step)
		}
	}
	return out
}

// Run makes every output that is missing or stale (all of them with
// cfg.Force) and returns what it made and reused. It holds a lock in the data
// dir for the whole run, so two runs on one data dir take turns. It sets
// PACK_HOME in the process environment to PackHome(cfg.DataDir), because
// pack reads it from nowhere else.
func Run(ctx context.Context, cfg Config) (Result, error) {
	start := time.Now()
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	docker, err := client.New(client.FromEnv)
	if err != nil {
		return Result{}, fmt.Errorf("connecting to the Docker engine: %w", err)
	}
	defer docker.Close()
	r, err := prepare(ctx, cfg, mobyEngine{c: docker})
	if err != nil {
		return Result{}, err
	}
	r.docker = docker

	if err := os.MkdirAll(r.in.WorkDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating the bootstrap dir: %w", err)
	}
	unlock, err := lockDir(ctx, r.in.WorkDir, r.log)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	removeScratch(r.in.WorkDir, r.log)
	r.scratch, err = os.MkdirTemp(r.in.WorkDir, "tmp-")
	if err != nil {
		return Result{}, fmt.Errorf("creating a scratch dir: %w", err)
	}
	// The scratch dir holds the rootfs tarballs (hundreds of MB): gone
	// whatever happens.
	defer os.RemoveAll(r.scratch)

	packHome := PackHome(cfg.DataDir)
	if err := os.MkdirAll(packHome, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating PACK_HOME: %w", err)
	}
	if err := os.Setenv("PACK_HOME", packHome); err != nil {
		return Result{}, fmt.Errorf("setting PACK_HOME: %w", err)
	}
	return r.bootstrap(ctx, start, r.make)
}

// Check reports which outputs are missing or stale, and what Run would do,
// without making anything. It needs the engine, the Go toolchain and the apt
// sources, as Run does, to compute the hashes.
func Check(ctx context.Context, cfg Config) (Status, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return Status{}, err
	}
	docker, err := client.New(client.FromEnv)
	if err != nil {
		return Status{}, fmt.Errorf("connecting to the Docker engine: %w", err)
	}
	defer docker.Close()
	r, err := prepare(ctx, cfg, mobyEngine{c: docker})
	if err != nil {
		return Status{}, err
	}
	return r.check(ctx)
}

// runner carries one run: the config, the engine, the inputs gathered from
// the host, and the paths the steps hand each other.
type runner struct {
	cfg    Config
	log    *slog.Logger
	eng    engine
	docker *client.Client // for pack, which takes the client itself

	in         inputs
	goRoot     string
	aptSources string

	scratch       string
	steps         map[stepID]step
	buildpacksDir string // written by the buildpacks step
}

// prepare gathers the inputs of the hashes from the engine and the host.
func prepare(ctx context.Context, cfg Config, eng engine) (*runner, error) {
	r := &runner{cfg: cfg, log: cfg.Log, eng: eng}
	api, err := eng.apiVersion(ctx)
	if err != nil {
		return nil, err
	}
	apiEnv, err := dockerAPIEnv(api)
	if err != nil {
		return nil, err
	}
	if r.goRoot, err = resolveGoRoot(ctx, r.log, cfg.GoRoot); err != nil {
		return nil, err
	}
	goVer, err := goVersion(ctx, r.log, r.goRoot)
	if err != nil {
		return nil, err
	}
	aptPath, aptDigest, err := resolveAptSources(cfg.AptSources)
	if err != nil {
		return nil, err
	}
	r.aptSources = aptPath
	src, err := sourceDigest(cfg.Source)
	if err != nil {
		return nil, err
	}
	r.in = inputs{
		RunImage:         cfg.RunImage,
		BuildImage:       cfg.BuildImage,
		BuilderImage:     cfg.BuilderImage,
		LifecycleImage:   cfg.LifecycleImage,
		LifecycleVersion: cfg.LifecycleVersion,
		WorkDir:          workDir(cfg.DataDir),
		AptSourcesDigest: aptDigest,
		GoVersion:        goVer,
		DockerAPIVersion: apiEnv,
		SourceDigest:     src,
		PackVersion:      packVersion(),
	}
	r.log.Debug("bootstrap inputs", "engine_api", api, "docker_api_env", apiEnv, "goroot", r.goRoot,
		"go", goVer, "apt_sources", aptPath, "source", src, "pack", r.in.PackVersion)
	return r, nil
}

func (r *runner) stepName(id stepID) string { return r.steps[id].name }

// check plans without doing.
func (r *runner) check(ctx context.Context) (Status, error) {
	steps := recipes(r.in)
	obs, err := r.observe(ctx, steps)
	if err != nil {
		return Status{}, err
	}
	return status(plan(steps, obs, r.cfg.Force)), nil
}

// bootstrap plans and carries out the plan with do, which makes one output.
// start is when the run began, for the total time.
func (r *runner) bootstrap(ctx context.Context, start time.Time, do func(context.Context, step) error) (Result, error) {
	steps := recipes(r.in)
	r.steps = map[stepID]step{}
	for _, s := range steps {
		r.steps[s.id] = s
	}
	obs, err := r.observe(ctx, steps)
	if err != nil {
		return Result{}, err
	}
	decisions := plan(steps, obs, r.cfg.Force)
	res := Result{
		RunImage:       r.stepName(stepRun),
		BuildImage:     r.stepName(stepBuild),
		LifecycleImage: r.stepName(stepLifecycleImage),
		BuilderImage:   r.stepName(stepBuilder),
		Lifecycle:      r.stepName(stepLifecycle),
	}
	res.Outputs, err = execute(ctx, decisions, do, r.cfg.Progress)
	res.Elapsed = time.Since(start)
	// Old images are removed even after a failure: whatever was remade
	// before it has left its predecessor dangling.
	r.removeReplaced(ctx, decisions, obs)
	if err != nil {
		return res, err
	}
	r.pruneFiles()
	fmt.Fprintf(r.cfg.Progress, "-----> bootstrap done in %s (%s)\n", round(res.Elapsed), summary(res.Outputs))
	return res, nil
}

// make makes the output of one step.
func (r *runner) make(ctx context.Context, s step) error {
	switch s.id {
	case stepRun:
		return r.makeBaseImage(ctx, s, runRootfs)
	case stepBuild:
		return r.makeBaseImage(ctx, s, buildRootfs)
	case stepLifecycle:
		return r.makeLifecycle(ctx, s)
	case stepLifecycleImage:
		return r.makeLifecycleImage(ctx, s)
	case stepBuildpacks:
		return r.makeBuildpacks(ctx, s)
	case stepBuilder:
		return r.makeBuilder(ctx, s)
	}
	return errors.New("unknown step")
}
