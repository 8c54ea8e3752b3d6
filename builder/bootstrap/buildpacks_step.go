package bootstrap

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/apprun/apprun/builder/buildpacks"
)

// buildpacksMain is the package of the buildpacks program in the source.
const buildpacksMain = "builder/buildpacks/cmd/apprun-buildpack"

// buildpacksGoMod is the go.mod the source is compiled with: the program
// uses the standard library only, so nothing is required and nothing is
// downloaded (GOPROXY=off makes sure).
const buildpacksGoMod = "module github.com/apprun/apprun\n\ngo 1.26\n"

// writeSource writes the buildpacks source from fsys into dir, beside a
// minimal go.mod.
func writeSource(fsys fs.FS, dir string) error {
	files, err := sourceFiles(fsys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(buildpacksGoMod), 0o644); err != nil {
		return err
	}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return fmt.Errorf("reading buildpack source: %w", err)
		}
		target := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// buildpackDir is where the buildpack id is written in the scratch dir.
func buildpackDir(root, id string) string {
	return filepath.Join(root, strings.ReplaceAll(id, "/", "_"))
}

// makeBuildpacks compiles the buildpacks program from the embedded source
// and writes one buildpack directory per id for the builder step.
func (r *runner) makeBuildpacks(ctx context.Context, s step) error {
	src := filepath.Join(r.scratch, "buildpacks-src")
	if err := writeSource(r.cfg.Source, src); err != nil {
		return fmt.Errorf("writing buildpack source: %w", err)
	}
	binary := filepath.Join(r.scratch, "apprun-buildpack")
	if _, err := runCommand(ctx, r.log, command{
		argv: []string{r.goBin(), "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, "./" + path.Clean(buildpacksMain)},
		dir:  src,
		env:  r.goEnv("GOPROXY=off"),
	}); err != nil {
		return err
	}
	root := filepath.Join(r.scratch, "buildpacks")
	for _, id := range buildpacks.IDs() {
		if err := buildpacks.WriteBuildpack(buildpackDir(root, id), id, s.name, binary); err != nil {
			return err
		}
	}
	r.buildpacksDir = root
	return nil
}
