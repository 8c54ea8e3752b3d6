package bootstrap

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// epoch dates the entries this package writes into tarballs, so that the
// same inputs give the same bytes (CNB dates image files 1980 for the same
// reason).
var epoch = time.Date(1980, time.January, 1, 0, 0, 1, 0, time.UTC)

const lifecycleModule = "github.com/buildpacks/lifecycle"

// lifecyclePhases are the symlinks to the lifecycle binary that pack
// expects in the tarball beside the binary and the launcher.
var lifecyclePhases = []string{"detector", "analyzer", "restorer", "builder", "exporter", "rebaser", "creator", "extender"}

// goEnv is the environment of every go command: the chosen toolchain, no
// workspace, no cgo (the binaries run in images without a C toolchain's
// libraries of the host's version), and no switch to another toolchain.
func (r *runner) goEnv(extra ...string) []string {
	return append([]string{
		"GOROOT=" + r.goRoot,
		"GOWORK=off",
		"GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
		"GOOS=linux",
	}, extra...)
}

func (r *runner) goBin() string { return filepath.Join(r.goRoot, "bin", "go") }

// makeLifecycle compiles the lifecycle from the module proxy in a directory
// of its own (in the same module as pack, minimal version selection mixes
// the two graphs and the compile breaks) and writes the tarball pack takes.
func (r *runner) makeLifecycle(ctx context.Context, s step) error {
	mod := lifecycleModule + "@v" + r.cfg.LifecycleVersion
	out, err := runCommand(ctx, r.log, command{
		argv: []string{r.goBin(), "mod", "download", "-json", mod},
		dir:  r.scratch, // no go.mod here, so nothing of ours is touched
		env:  r.goEnv(),
	})
	if err != nil {
		return err
	}
	var dl struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(out), &dl); err != nil {
		return fmt.Errorf("reading go mod download's answer: %w", err)
	}
	if dl.Error != "" || dl.Dir == "" {
		return fmt.Errorf("downloading %s: %s", mod, dl.Error)
	}
	// The module cache is read-only; the compile writes go.sum updates.
	src := filepath.Join(r.scratch, "lifecycle-src")
	if err := copyTree(dl.Dir, src); err != nil {
		return fmt.Errorf("copying the lifecycle source: %w", err)
	}
	bin := filepath.Join(r.scratch, "lifecycle-bin")
	if _, err := runCommand(ctx, r.log, command{
		argv: []string{r.goBin(), "build", "-trimpath", "-ldflags", lifecycleLDFlags(r.cfg.LifecycleVersion),
			"-o", bin + string(filepath.Separator), "./cmd/lifecycle", "./cmd/launcher"},
		dir: src,
		env: r.goEnv(),
	}); err != nil {
		return err
	}
	apisSrc, err := os.ReadFile(filepath.Join(src, "api", "apis.go"))
	if err != nil {
		return fmt.Errorf("reading the lifecycle's APIs: %w", err)
	}
	apis, err := parseLifecycleAPIs(apisSrc)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.name, func(w io.Writer) error {
		return writeLifecycleTarball(w, lifecycleFiles{
			descriptor: lifecycleDescriptor(r.cfg.LifecycleVersion, apis),
			lifecycle:  filepath.Join(bin, "lifecycle"),
			launcher:   filepath.Join(bin, "launcher"),
		})
	})
}

// lifecycleFiles are the inputs of the tarball.
type lifecycleFiles struct {
	descriptor string // lifecycle.toml
	lifecycle  string // path of the lifecycle binary
	launcher   string // path of the launcher binary
}

// writeLifecycleTarball writes the gzipped tarball pack's builder config
// takes as lifecycle.uri: lifecycle.toml at the root, and lifecycle/ with the
// two binaries and a symlink to the lifecycle binary for each phase.
func writeLifecycleTarball(w io.Writer, f lifecycleFiles) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	write := func(hdr *tar.Header, content io.Reader) error {
		hdr.ModTime, hdr.Uname, hdr.Gname, hdr.Format = epoch, "root", "root", tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if content != nil {
			_, err := io.Copy(tw, content)
			return err
		}
		return nil
	}
	file := func(name, path string) error {
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		info, err := fh.Stat()
		if err != nil {
			return err
		}
		return write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: info.Size()}, fh)
	}
	err := func() error {
		if err := write(&tar.Header{Typeflag: tar.TypeReg, Name: "lifecycle.toml", Mode: 0o644, Size: int64(len(f.descriptor))},
			strings.NewReader(f.descriptor)); err != nil {
			return err
		}
		if err := write(&tar.Header{Typeflag: tar.TypeDir, Name: "lifecycle/", Mode: 0o755}, nil); err != nil {
			return err
		}
		if err := file("lifecycle/lifecycle", f.lifecycle); err != nil {
			return err
		}
		if err := file("lifecycle/launcher", f.launcher); err != nil {
			return err
		}
		for _, p := range lifecyclePhases {
			if err := write(&tar.Header{Typeflag: tar.TypeSymlink, Name: "lifecycle/" + p, Linkname: "lifecycle", Mode: 0o777}, nil); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return zw.Close()
	}()
	if err != nil {
		return fmt.Errorf("writing the lifecycle tarball: %w", err)
	}
	return nil
}

// writeFileAtomic writes a file through write into a temporary name beside
// it and renames it into place, so that a file under a hashed name is
// always whole.
func writeFileAtomic(name string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// copyTree copies the regular files and directories of src to dst, making
// them writable (the module cache's are read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return copyFile(p, target, mode)
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// errNoDescriptor is returned when a lifecycle tarball has no lifecycle.toml.
var errNoDescriptor = errors.New("lifecycle tarball has no lifecycle.toml")
