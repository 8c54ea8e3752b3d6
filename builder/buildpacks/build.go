package buildpacks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// NetworkEnv is the platform env variable by which the operator allows a
// build to reach the network ("1"). Without it every step runs offline.
const NetworkEnv = "APPRUN_BUILD_NETWORK"

// PortLabel is the image label that records the port the app listens on
// (run.network.port, or 8080).
const PortLabel = "io.apprun.port"

// language is one language buildpack's part of a build; the shared steps
// (apprun.yaml, launch.toml, the env layer) are in build.run.
type language interface {
	// prepare makes the cache layers and sets b.toolEnv, the settings the
	// build steps (the default one and the user's) need.
	prepare(ctx context.Context, b *build) error
	// build is the buildpack's own build step, which apprun.yaml's
	// build.commands.build replaces.
	build(ctx context.Context, b *build) error
	// processes returns the language's default processes (its web), or a
	// sentence saying what it looked for when it found none.
	processes(ctx context.Context, b *build) ([]process, string, error)
}

// build is one run of bin/build.
type build struct {
	id  string
	env Env
	app fs.FS
	// platformEnv is the user's build env from <platform>/env.
	platformEnv map[string]string
	// network is whether the operator allowed the build a network.
	network bool
	cfg     spec.AppConfig
	cfgName string
	// procfile is the app's Procfile, or nil.
	procfile []spec.Process
	// owner is whether this buildpack applies apprun.yaml: a language
	// buildpack always, the procfile buildpack when it runs alone.
	owner bool
	// replaced is whether apprun.yaml's build commands replaced the
	// buildpack's build step.
	replaced bool
	// toolEnv is set by the language for every build step.
	toolEnv map[string]string
	// launchEnv holds launch defaults of the language (NODE_ENV, ...);
	// launchPrepend holds path lists prepended at launch (PATH,
	// PYTHONPATH).
	launchEnv     map[string]string
	launchPrepend map[string][]string
	// scripts are package.json's scripts, when there is one, so that "npm
	// start" resolves to the script wherever it is written.
	scripts map[string]string
}

// newLanguage returns buildpack id's part of the build, or nil.
func newLanguage(id string) language {
	switch id {
	case IDGo:
		return &goLang{}
	case IDNode:
		return &nodeLang{}
	case IDPython:
		return &pythonLang{}
	case IDStatic:
		return staticLang{}
	case IDProcfile:
		return procfileLang{}
	}
	return nil
}

// Build runs bin/build of buildpack id: it builds the app in env.AppDir into
// layers under env.LayersDir and writes launch.toml.
func Build(ctx context.Context, id string, env Env) error {
	lang := newLanguage(id)
	if lang == nil {
		return fmt.Errorf("unknown buildpack %q", id)
	}
	b, err := newBuild(id, env)
	if err != nil {
		return err
	}
	return b.run(ctx, lang)
}

func newBuild(id string, env Env) (*build, error) {
	if env.LayersDir == "" {
		return nil, errors.New("CNB_LAYERS_DIR is not set")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	b := &build{
		id:            id,
		env:           env,
		app:           os.DirFS(env.AppDir),
		toolEnv:       map[string]string{},
		launchEnv:     map[string]string{},
		launchPrepend: map[string][]string{},
	}
	var err error
	if b.platformEnv, err = readPlatformEnv(env.PlatformDir); err != nil {
		return nil, err
	}
	v, ok := b.platformEnv[NetworkEnv]
	if !ok {
		v, _ = lookupEnv(env.Environ, NetworkEnv)
	}
	b.network = v == "1" || strings.EqualFold(v, "true")
	if b.cfg, b.cfgName, err = loadConfig(b.app); err != nil {
		return nil, err
	}
	if b.procfile, err = loadProcfile(b.app); err != nil {
		return nil, err
	}
	if pkg, ok, err := readPackageJSON(b.app); err != nil {
		return nil, err
	} else if ok {
		b.scripts = pkg.Scripts
	}
	b.owner = id != IDProcfile
	if id == IDProcfile {
		ran, err := languageDetected(b.app)
		if err != nil {
			return nil, err
		}
		b.owner = !ran
	}
	return b, nil
}

// readPlatformEnv reads <platform>/env: one file per variable, its content
// the value.
func readPlatformEnv(platformDir string) (map[string]string, error) {
	out := map[string]string{}
	if platformDir == "" {
		return out, nil
	}
	dir := filepath.Join(platformDir, "env")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the platform env: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading the platform env: %w", err)
		}
		out[e.Name()] = string(data)
	}
	return out, nil
}

func (b *build) logf(format string, args ...any) {
	fmt.Fprintf(b.env.Stdout, format+"\n", args...)
}

func (b *build) run(ctx context.Context, lang language) error {
	b.logf("-----> %s %s", names[b.id], Version)
	if b.owner && b.cfgName != "" {
		b.logf("       Using %s", b.cfgName)
	}
	if b.owner && !b.network {
		b.logf("       Building offline (the operator allows a network with %s=1)", NetworkEnv)
	}
	if err := lang.prepare(ctx, b); err != nil {
		return err
	}
	cmds := b.cfg.Build.Commands
	if b.owner {
		if err := b.steps(ctx, "build.commands.pre-build", cmds.PreBuild); err != nil {
			return err
		}
	}
	if b.owner && len(cmds.Build) > 0 {
		b.replaced = true
		b.logf("       build.commands.build replaces the buildpack's build step")
		if err := b.steps(ctx, "build.commands.build", cmds.Build); err != nil {
			return err
		}
	} else if err := lang.build(ctx, b); err != nil {
		return err
	}
	if b.owner {
		if err := b.steps(ctx, "build.commands.post-build", cmds.PostBuild); err != nil {
			return err
		}
		if err := b.steps(ctx, "run.pre-run", b.cfg.Run.PreRun); err != nil {
			return err
		}
	}
	var procs []process
	looked := ""
	if !b.owner || b.cfg.Run.Command == "" || b.id == IDProcfile {
		// With run.command, a language's default web is not wanted, nor
		// what it would take to make (a static server layer, an app
		// server found in the requirements).
		var err error
		if procs, looked, err = lang.processes(ctx, b); err != nil {
			return err
		}
	}
	var labels []label
	if b.owner {
		if c := b.cfg.Run.Command; c != "" {
			procs = setProcess(procs, process{Type: spec.WebProcess, Command: resolveCommand(c, b.scripts)})
		}
		if !hasProcess(procs, spec.WebProcess) && len(b.procfile) == 0 {
			return fmt.Errorf("no web process: %s; add run.command to apprun.yaml or a Procfile with a web line", looked)
		}
		if err := b.writeEnvLayer(); err != nil {
			return err
		}
		labels = append(labels, label{Key: PortLabel, Value: strconv.Itoa(b.cfg.EffectivePort())})
	}
	for i := range procs {
		procs[i].Default = procs[i].Type == spec.WebProcess
		b.logf("       Process %s: %s", procs[i].Type, strings.Join(procs[i].Command, " "))
	}
	if len(procs) == 0 && len(labels) == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(b.env.LayersDir, "launch.toml"), []byte(launchTOML(procs, labels)), 0o644); err != nil {
		return fmt.Errorf("writing launch.toml: %w", err)
	}
	return nil
}

// setProcess replaces the process of p's type, or adds p.
func setProcess(procs []process, p process) []process {
	for i := range procs {
		if procs[i].Type == p.Type {
			procs[i] = p
			return procs
		}
	}
	return append(procs, p)
}

func hasProcess(procs []process, typ string) bool {
	return slices.ContainsFunc(procs, func(p process) bool { return p.Type == typ })
}

// writeEnvLayer writes the launch env of the app: PORT (and the variable
// run.network.env names) and run.env from apprun.yaml over the language's
// defaults, all as defaults the service's own env overrides.
func (b *build) writeEnvLayer() error {
	env := map[string]string{}
	for k, v := range b.launchEnv {
		env[k] = v
	}
	port := strconv.Itoa(b.cfg.EffectivePort())
	for _, e := range b.cfg.Run.Env {
		if e.Name == "PORT" && e.Value != port {
			b.logf("       Warning: run.env sets PORT; the port is run.network.port (%s)", port)
			continue
		}
		env[e.Name] = e.Value
	}
	env["PORT"] = port
	if n := b.cfg.Run.Network.Env; n != "" {
		env[n] = port
	}
	vars := sortedEnv(env)
	for _, name := range slices.Sorted(maps.Keys(b.launchPrepend)) {
		vars = append(vars, envVar{Name: name, Value: strings.Join(b.launchPrepend[name], ":"), Action: envPrepend})
	}
	_, _, err := b.contribute("apprun-env", layerTypes{Launch: true}, envMetadata(vars), func(dir string) error {
		return writeEnvDir(filepath.Join(dir, "env.launch"), vars)
	})
	return err
}

// commandEnv is the environment of every build step, weakest first: the
// process's, the language's tool settings, the platform env, and (for the
// buildpack that owns apprun.yaml) its build.env.
func (b *build) commandEnv() []string {
	buildEnv := map[string]string{}
	if b.owner {
		for _, e := range b.cfg.Build.Env {
			buildEnv[e.Name] = e.Value
		}
	}
	return mergeEnv(b.env.Environ, b.toolEnv, b.platformEnv, buildEnv)
}

// steps runs apprun.yaml commands, each with sh -c in the app directory,
// their output streaming to the build log.
func (b *build) steps(ctx context.Context, step string, cmds []string) error {
	for i, c := range cmds {
		b.logf("-----> %s: %s", step, c)
		if err := b.exec(ctx, b.env.AppDir, "sh", "-c", c); err != nil {
			return fmt.Errorf("%s[%d] (%s): %w", step, i, c, err)
		}
	}
	return nil
}

// exec runs a program with the build's environment in dir, streaming its
// output to the build log.
func (b *build) exec(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = b.commandEnv()
	cmd.Stdout = b.env.Stdout
	cmd.Stderr = b.env.Stderr
	// A background process the command left holding its output must not
	// hold the build open once the command is done or cancelled.
	cmd.WaitDelay = 5 * time.Second
	return cmd.Run()
}

// output runs a program with the build's environment and returns its
// trimmed standard output.
func (b *build) output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = b.env.AppDir
	cmd.Env = b.commandEnv()
	cmd.Stderr = b.env.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running %s: %w", strings.Join(append([]string{name}, args...), " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
