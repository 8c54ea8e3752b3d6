// Package testapp makes apprun's test image: the program of cmd/testapp,
// built with CGO_ENABLED=0 and put FROM scratch, tagged by a hash of its
// source. The engine has no registry to pull from, so tests that start
// containers build it with the docker CLI; a FROM scratch image needs no
// pull. The package never imports the Docker SDK (the import rules keep
// that to deployer/docker and builder).
package testapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Repository is the image's repository; the tag is a hash of the source.
const Repository = "apprun-test/testapp"

// Label marks the image, so a leftover on a shared engine says what made
// it.
const Label = "io.apprun.test=testapp"

// The program's source is embedded, not read from the checkout, so the
// hash and the build do not depend on the test's working directory.
//
//go:embed cmd/testapp/*.go
var source embed.FS

const dockerfile = `FROM scratch
COPY testapp /testapp
USER 1000:1000
ENTRYPOINT ["/testapp"]
`

// built remembers the tags this process made or found, so the tests of one
// package build at most once. Across packages (go test runs them in
// parallel) two builds of the same tag may race; both produce the same
// image, so the race is harmless.
var (
	mu    sync.Mutex
	built = map[string]bool{}
)

// Image returns the tag of the test image, building it when the engine does
// not have it yet.
func Image(ctx context.Context) (string, error) {
	files, hash, err := sources()
	if err != nil {
		return "", err
	}
	tag := Repository + ":" + hash
	mu.Lock()
	defer mu.Unlock()
	if built[tag] {
		return tag, nil
	}
	if _, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", tag); err == nil {
		built[tag] = true
		return tag, nil
	}
	if err := build(ctx, files, tag); err != nil {
		return "", fmt.Errorf("building %s: %w", tag, err)
	}
	built[tag] = true
	return tag, nil
}

// sources returns the program's files (tests left out) and a hash of them
// and of the target architecture.
func sources() (map[string][]byte, string, error) {
	paths, err := fs.Glob(source, "cmd/testapp/*.go")
	if err != nil {
		return nil, "", err
	}
	sort.Strings(paths)
	files := map[string][]byte{}
	h := sha256.New()
	fmt.Fprintf(h, "testapp v1 %s\n", runtime.GOARCH)
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := source.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		name := filepath.Base(p)
		files[name] = b
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return files, hex.EncodeToString(h.Sum(nil))[:16], nil
}

// build compiles the program in a scratch module of its own (it uses the
// standard library only) and builds the image from the binary.
func build(ctx context.Context, files map[string][]byte, tag string) error {
	dir, err := os.MkdirTemp("", "apprun-testapp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src, bctx := filepath.Join(dir, "src"), filepath.Join(dir, "context")
	for _, d := range []string{src, bctx} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	files["go.mod"] = []byte("module testapp\n\ngo 1.26\n")
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			return err
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build the test app: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", filepath.Join(bctx, "testapp"), ".")
	cmd.Dir = src
	// A scratch image has no libc, hence CGO_ENABLED=0. GOFLAGS from the
	// caller (-mod=vendor, say) mean nothing to this one-file module, and
	// GOTOOLCHAIN=local keeps the go command from fetching a toolchain.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		"GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w: %s", err, bytes.TrimSpace(out))
	}
	if err := os.WriteFile(filepath.Join(bctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	// The engine is Docker 20.10 and the CLI may lack buildx: the classic
	// builder handles a FROM scratch context fine.
	_, err = docker(ctx, "build", "--quiet", "--label", Label, "--tag", tag, bctx)
	return err
}

// docker runs the docker CLI with argv (no shell) and returns its stdout.
func docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("the docker CLI is not installed: %w", err)
		}
		return "", fmt.Errorf("docker %s: %w: %s", args[0], err, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}
