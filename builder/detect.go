package builder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/apprun/apprun/builder/buildpacks"
	"github.com/apprun/apprun/spec"
)

// The kinds of build, as Result.Kind reports them.
const (
	KindBuildpacks = "buildpacks"
	KindDockerfile = "dockerfile"
)

// plan is the build flow chosen for a source.
type plan struct {
	kind       string
	dockerfile string // the Dockerfile's path in the source, for KindDockerfile
	why        string // said in the log
}

// appConfigNames are the names apprun.yaml is read under, in order of
// preference (App Runner's own name is read unchanged).
var appConfigNames = []string{"apprun.yaml", "apprunner.yaml"}

// choose picks the flow for the source in dir: the Dockerfile that
// apprun.yaml names; else buildpacks; else, when no buildpack detects, a
// Dockerfile at the root; else ErrNothingDetected saying what was looked
// for. own says the builder is apprun's, whose detection runs here in
// process (fast, and its reasons are precise); with another builder only
// the lifecycle can tell, and the caller falls back after it has said so.
func choose(dir string, own bool) (plan, error) {
	cfg, name, err := loadAppConfig(dir)
	if err != nil {
		return plan{}, err
	}
	if cfg.Build.Dockerfile != "" {
		df := path.Clean(cfg.Build.Dockerfile)
		if !dockerfileAt(dir, df) {
			return plan{}, fmt.Errorf("%s names the Dockerfile %s, which is not a file in the source", name, df)
		}
		return plan{kind: KindDockerfile, dockerfile: df, why: fmt.Sprintf("Using the Dockerfile %s, as %s asks", df, name)}, nil
	}
	if !own {
		return plan{kind: KindBuildpacks}, nil
	}
	ids, err := detect(dir)
	if err != nil {
		return plan{}, fmt.Errorf("detecting buildpacks: %w", err)
	}
	if len(ids) > 0 {
		return plan{kind: KindBuildpacks, why: "Detected " + strings.Join(ids, ", ")}, nil
	}
	return fallback(dir)
}

// fallback is the choice when no buildpack detects.
func fallback(dir string) (plan, error) {
	if dockerfileAt(dir, "Dockerfile") {
		return plan{kind: KindDockerfile, dockerfile: "Dockerfile", why: "No buildpack detected the source; using its Dockerfile"}, nil
	}
	return plan{}, nothingDetected()
}

// nothingDetected lists what the buildpacks looked for, so the message
// says what to add.
func nothingDetected() error {
	return fmt.Errorf("%w; apprun looked for:\n  %s\n  or a Dockerfile (any app)", ErrNothingDetected, strings.Join(buildpacks.Looked(), "\n  "))
}

// detect runs apprun's buildpacks' detection over dir as the lifecycle
// would: the first group of the builder's order whose required buildpacks
// all pass wins. It returns that group's passing buildpacks, or none.
func detect(dir string) ([]string, error) {
	env := buildpacks.Env{AppDir: dir, Stdout: io.Discard, Stderr: io.Discard}
	for _, group := range buildpacks.Order() {
		var ids []string
		pass := true
		for _, e := range group {
			ok, err := buildpacks.Detect(e.ID, env)
			if err != nil {
				return nil, err
			}
			if ok {
				ids = append(ids, e.ID)
			} else if !e.Optional {
				pass = false
				break
			}
		}
		if pass && len(ids) > 0 {
			return ids, nil
		}
	}
	return nil, nil
}

// loadAppConfig reads apprun.yaml (or apprunner.yaml) from dir. A source
// without one has the zero config and name "".
func loadAppConfig(dir string) (spec.AppConfig, string, error) {
	for _, name := range appConfigNames {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return spec.AppConfig{}, "", fmt.Errorf("reading %s: %w", name, err)
		}
		cfg, err := spec.ParseAppConfig(data)
		if err != nil {
			return spec.AppConfig{}, "", fmt.Errorf("%s: %w", name, err)
		}
		return cfg, name, nil
	}
	return spec.AppConfig{}, "", nil
}
