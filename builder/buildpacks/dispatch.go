package buildpacks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Mode is what one run of the multi-call program does.
type Mode string

// The modes, each also the name the program is started under.
const (
	ModeDetect       Mode = "detect"
	ModeBuild        Mode = "build"
	ModeStaticServer Mode = "static-server"
)

// Exit statuses of bin/detect (Buildpack API: pass 0, fail 100, anything
// else an error) and of the other modes.
const (
	ExitPass  = 0
	ExitFail  = 100
	ExitError = 1
)

// Invocation is a decided run of the program: the mode, the buildpack (for
// detect and build) and the remaining arguments.
type Invocation struct {
	Mode      Mode
	Buildpack string
	Args      []string
}

// Dispatch decides what the program does from its arguments (os.Args) and
// the content of its buildpack.toml (nil when there is none). The mode is
// the base name the program was started under (bin/detect, bin/build, or
// the static-server copy in a launch layer); started under any other name
// (apprun-buildpack), the first argument names the mode. Detect and build
// need the buildpack id, read from buildpack.toml.
func Dispatch(args []string, buildpackTOML []byte) (Invocation, error) {
	if len(args) == 0 {
		return Invocation{}, errors.New("no program name in the arguments")
	}
	mode, rest := Mode(filepath.Base(args[0])), args[1:]
	if !mode.known() {
		if len(rest) == 0 {
			return Invocation{}, fmt.Errorf("usage: %s detect|build|static-server [args]", filepath.Base(args[0]))
		}
		mode, rest = Mode(rest[0]), rest[1:]
		if !mode.known() {
			return Invocation{}, fmt.Errorf("unknown mode %q: want detect, build or static-server", string(mode))
		}
	}
	inv := Invocation{Mode: mode, Args: rest}
	if mode == ModeStaticServer {
		return inv, nil
	}
	if buildpackTOML == nil {
		return Invocation{}, fmt.Errorf("%s: no buildpack.toml (is CNB_BUILDPACK_DIR set?)", mode)
	}
	id, err := BuildpackID(buildpackTOML)
	if err != nil {
		return Invocation{}, fmt.Errorf("%s: %w", mode, err)
	}
	inv.Buildpack = id
	return inv, nil
}

func (m Mode) known() bool {
	return m == ModeDetect || m == ModeBuild || m == ModeStaticServer
}

// BuildpackID reads the id from a buildpack.toml and checks that it is one
// of this program's buildpacks.
func BuildpackID(buildpackTOML []byte) (string, error) {
	id := tomlStrings(string(buildpackTOML), "buildpack")["id"]
	if id == "" {
		return "", errors.New("buildpack.toml names no [buildpack] id")
	}
	if !slices.Contains(IDs(), id) {
		return "", fmt.Errorf("buildpack.toml names %q, which is not one of %s", id, strings.Join(IDs(), ", "))
	}
	return id, nil
}

// Env is what the lifecycle gives a buildpack process, gathered once at the
// edge (EnvFromOS) so the logic below runs on plain values in tests.
type Env struct {
	// AppDir is the app source: the working directory of detect and build.
	AppDir string
	// PlatformDir is CNB_PLATFORM_DIR; its env/ holds the user's build env.
	PlatformDir string
	// BuildPlanPath is CNB_BUILD_PLAN_PATH (detect only).
	BuildPlanPath string
	// LayersDir is CNB_LAYERS_DIR, this buildpack's layers (build only).
	LayersDir string
	// PlanPath is CNB_BP_PLAN_PATH (build only).
	PlanPath string
	// BuildpackDir is CNB_BUILDPACK_DIR.
	BuildpackDir string
	// TargetOS and TargetArch (CNB_TARGET_OS, CNB_TARGET_ARCH,
	// CNB_TARGET_ARCH_VARIANT) describe the run image; Go cross-compiles
	// for it.
	TargetOS, TargetArch, TargetArchVariant string
	// Environ is the process environment.
	Environ []string
	// Self is the path of the multi-call program itself, copied into a
	// launch layer as the static server.
	Self string
	// Stdout and Stderr receive the build's log and its commands' output.
	Stdout, Stderr io.Writer
}

// EnvFromOS reads Env from the process: its working directory, the CNB_*
// variables, and its own executable.
func EnvFromOS() (Env, error) {
	wd, err := os.Getwd()
	if err != nil {
		return Env{}, fmt.Errorf("reading the working directory: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return Env{}, fmt.Errorf("finding the program's path: %w", err)
	}
	return Env{
		AppDir:            wd,
		PlatformDir:       os.Getenv("CNB_PLATFORM_DIR"),
		BuildPlanPath:     os.Getenv("CNB_BUILD_PLAN_PATH"),
		LayersDir:         os.Getenv("CNB_LAYERS_DIR"),
		PlanPath:          os.Getenv("CNB_BP_PLAN_PATH"),
		BuildpackDir:      os.Getenv("CNB_BUILDPACK_DIR"),
		TargetOS:          os.Getenv("CNB_TARGET_OS"),
		TargetArch:        os.Getenv("CNB_TARGET_ARCH"),
		TargetArchVariant: os.Getenv("CNB_TARGET_ARCH_VARIANT"),
		Environ:           os.Environ(),
		Self:              self,
		Stdout:            os.Stdout,
		Stderr:            os.Stderr,
	}, nil
}

// ReadBuildpackTOML returns the buildpack.toml of the running buildpack:
// from CNB_BUILDPACK_DIR, or else from the directory above the program's
// own (bin/detect lives in <buildpack>/bin). It returns nil when there is
// none, as for the static server in a launch layer.
func ReadBuildpackTOML(env Env, argv0 string) []byte {
	dirs := []string{env.BuildpackDir}
	if filepath.IsAbs(argv0) {
		dirs = append(dirs, filepath.Dir(filepath.Dir(argv0)))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(d, "buildpack.toml")); err == nil {
			return data
		}
	}
	return nil
}

// Run carries out an invocation and returns the process's exit status.
func Run(ctx context.Context, inv Invocation, env Env) int {
	switch inv.Mode {
	case ModeDetect:
		pass, err := Detect(inv.Buildpack, env)
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s: %v\n", inv.Buildpack, err)
			return ExitError
		}
		if !pass {
			return ExitFail
		}
		return ExitPass
	case ModeBuild:
		if err := Build(ctx, inv.Buildpack, env); err != nil {
			fmt.Fprintf(env.Stderr, "ERROR: %s: %v\n", inv.Buildpack, err)
			return ExitError
		}
		return ExitPass
	case ModeStaticServer:
		if err := RunStaticServer(ctx, inv.Args, env.Environ, env.Stderr); err != nil {
			fmt.Fprintf(env.Stderr, "static-server: %v\n", err)
			return ExitError
		}
		return ExitPass
	}
	fmt.Fprintf(env.Stderr, "unknown mode %q\n", inv.Mode)
	return ExitError
}
