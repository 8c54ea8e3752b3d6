package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// minLifecycleDockerAPI is the lowest engine API version the lifecycle's
// Docker client (moby client v0.2.1) negotiates down to by itself.
const minLifecycleDockerAPI = "1.44"

// dockerAPIEnv is the DOCKER_API_VERSION the images must carry for an
// engine that speaks version: the version itself when it is below what the
// lifecycle's client negotiates, else nothing.
func dockerAPIEnv(version string) (string, error) {
	less, err := apiLess(version, minLifecycleDockerAPI)
	if err != nil {
		return "", err
	}
	if less {
		return version, nil
	}
	return "", nil
}

// apiLess compares two "major.minor" API versions.
func apiLess(a, b string) (bool, error) {
	pa, err := parseAPI(a)
	if err != nil {
		return false, err
	}
	pb, err := parseAPI(b)
	if err != nil {
		return false, err
	}
	if pa[0] != pb[0] {
		return pa[0] < pb[0], nil
	}
	return pa[1] < pb[1], nil
}

func parseAPI(v string) ([2]int, error) {
	major, minor, ok := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("engine API version %q is not major.minor", v)
	}
	return [2]int{ma, mi}, nil
}

// resolveGoRoot returns GoRoot, or the GOROOT of the go command on PATH, or
// /usr/local/go where the go command is not on PATH (a service's PATH often
// lacks it).
func resolveGoRoot(ctx context.Context, log *slog.Logger, goRoot string) (string, error) {
	if goRoot != "" {
		return goRoot, nil
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		if _, serr := os.Stat("/usr/local/go/bin/go"); serr == nil {
			return "/usr/local/go", nil
		}
		return "", errors.New("no go command on PATH and none in /usr/local/go: set the Go root")
	}
	out, err := runCommand(ctx, log, command{argv: []string{goCmd, "env", "GOROOT"}})
	if err != nil {
		return "", fmt.Errorf("finding GOROOT: %w", err)
	}
	return strings.TrimSpace(out), nil
}

// goVersion asks the toolchain at goRoot its version, like "go1.26.8".
func goVersion(ctx context.Context, log *slog.Logger, goRoot string) (string, error) {
	out, err := runCommand(ctx, log, command{
		argv: []string{filepath.Join(goRoot, "bin", "go"), "env", "GOVERSION"},
		env:  []string{"GOROOT=" + goRoot, "GOTOOLCHAIN=local"},
	})
	if err != nil {
		return "", fmt.Errorf("asking the Go toolchain its version: %w", err)
	}
	v := strings.TrimSpace(out)
	if !strings.HasPrefix(v, "go") {
		return "", fmt.Errorf("the Go toolchain at %s reports version %q", goRoot, v)
	}
	return v, nil
}

// resolveAptSources returns the apt sources file to use and the digest of
// its content.
func resolveAptSources(path string) (string, string, error) {
	candidates := aptSourcesCandidates
	if path != "" {
		candidates = []string{path}
	}
	for _, c := range candidates {
		b, err := os.ReadFile(c)
		if errors.Is(err, fs.ErrNotExist) && path == "" {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("reading apt sources: %w", err)
		}
		return c, digestBytes(b), nil
	}
	return "", "", fmt.Errorf("no apt sources file in %s: set one", strings.Join(aptSourcesCandidates, " or "))
}

// packModuleVersion is the pack module go.mod pins (a test keeps the two in
// step). It is a constant, not read from the binary's build info, because
// test binaries carry no dependency versions: a hash that differed between
// `go test` and the real binary made each see the other's builder as stale
// and rebuild it.
const packModuleVersion = "v0.40.2"

// packVersion is the pack module linked in, which writes the builder's
// metadata.
func packVersion() string { return packModuleVersion }
