package buildpacks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apprun/apprun/spec"
)

// staticLang serves a static site with this program's own static server,
// copied into a launch layer.
type staticLang struct{}

func (staticLang) prepare(context.Context, *build) error { return nil }

// build has nothing to do: a site is served as committed, or as
// apprun.yaml's build commands leave it.
func (staticLang) build(context.Context, *build) error { return nil }

func (staticLang) processes(_ context.Context, b *build) ([]process, string, error) {
	// The root is looked for after the build, which may have made it
	// (dist/ from a site generator run by build.commands).
	root, ok := staticRoot(b.app)
	if !ok {
		return nil, "no " + describeMarkers(IDStatic), nil
	}
	sum, err := hashFile(b.env.Self)
	if err != nil {
		return nil, "", err
	}
	if sum == "" {
		return nil, "", fmt.Errorf("the static server program %s is missing", b.env.Self)
	}
	dir, _, err := b.contribute("static-server", layerTypes{Launch: true}, map[string]string{"binary": sum}, func(dir string) error {
		if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
			return fmt.Errorf("making the static server layer: %w", err)
		}
		if err := copyFile(b.env.Self, filepath.Join(dir, "bin", string(ModeStaticServer)), 0o755); err != nil {
			return fmt.Errorf("copying the static server: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	b.logf("       Serving %s", root)
	return []process{{Type: spec.WebProcess, Command: []string{filepath.Join(dir, "bin", string(ModeStaticServer)), "--root", root}}}, "", nil
}

// procfileLang adds the Procfile's process types. Alone (no language
// buildpack matched) it also applies apprun.yaml, through build.run.
type procfileLang struct{}

func (procfileLang) prepare(context.Context, *build) error { return nil }

func (procfileLang) build(context.Context, *build) error { return nil }

func (procfileLang) processes(_ context.Context, b *build) ([]process, string, error) {
	var procs []process
	for _, p := range b.procfile {
		if p.Type == spec.WebProcess && b.cfg.Run.Command != "" {
			b.logf("       run.command in %s overrides the Procfile's web", b.cfgName)
			continue
		}
		procs = append(procs, process{Type: p.Type, Command: resolveCommand(p.Command, b.scripts)})
	}
	return procs, "the Procfile has no web line", nil
}

// writeFile writes data to name with mode, making its directory.
func writeFile(name string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(name), err)
	}
	if err := os.WriteFile(name, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(name), err)
	}
	return nil
}
