package buildpacks

import (
	"bufio"
	"context"
	"fmt"
	gobuild "go/build"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// goLang builds a Go module into static binaries (CGO_ENABLED=0): the main
// package at the root and each main package under cmd/, into a launch
// layer's bin/ (so a Procfile can name them). GOCACHE and GOMODCACHE live
// in a cache layer.
type goLang struct {
	version string
	mains   []goMain
	binDir  string
}

// goMain is one main package and the name of its binary.
type goMain struct {
	Name string // binary name, as go build names it
	Pkg  string // package pattern: "." or "./cmd/<dir>"
}

func (g *goLang) prepare(ctx context.Context, b *build) error {
	// Settings that must hold before the go command first runs: offline,
	// it must neither fetch modules nor download a newer toolchain.
	b.toolEnv["CGO_ENABLED"] = "0"
	// -buildvcs=false: the source may be a checkout owned by another
	// user, where git refuses to answer and go build would fail; and the
	// cache layer must stay writable for the lifecycle (-modcacherw).
	b.toolEnv["GOFLAGS"] = "-modcacherw -buildvcs=false"
	if isFile(b.app, "vendor/modules.txt") {
		b.toolEnv["GOFLAGS"] += " -mod=vendor"
	}
	if !b.network {
		b.toolEnv["GOPROXY"] = "off"
		b.toolEnv["GOSUMDB"] = "off"
		b.toolEnv["GOTOOLCHAIN"] = "local"
	}
	if b.env.TargetOS != "" {
		b.toolEnv["GOOS"] = b.env.TargetOS
	}
	if b.env.TargetArch != "" {
		b.toolEnv["GOARCH"] = b.env.TargetArch
		if v := strings.TrimPrefix(b.env.TargetArchVariant, "v"); b.env.TargetArch == "arm" && v != "" {
			b.toolEnv["GOARM"] = v
		}
	}
	version, err := b.output(ctx, "go", "env", "GOVERSION")
	if err != nil {
		return fmt.Errorf("finding the Go toolchain: %w", err)
	}
	g.version = version
	b.logf("       Using %s", version)
	cache, _, err := b.contribute("go-cache", layerTypes{Cache: true}, map[string]string{"go": version}, func(dir string) error {
		for _, d := range []string{"build", "mod", "path"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return fmt.Errorf("making the Go cache: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.toolEnv["GOCACHE"] = filepath.Join(cache, "build")
	b.toolEnv["GOMODCACHE"] = filepath.Join(cache, "mod")
	b.toolEnv["GOPATH"] = filepath.Join(cache, "path")
	g.binDir = filepath.Join(b.env.LayersDir, "go-bin", "bin")
	return nil
}

func (g *goLang) build(ctx context.Context, b *build) error {
	mains, err := goMains(b.env.AppDir, b.toolEnv["GOARCH"])
	if err != nil {
		return err
	}
	if len(mains) == 0 {
		return fmt.Errorf("no main package at the module root or in cmd/*")
	}
	g.mains = mains
	source, err := hashTree(b.env.AppDir, ".git")
	if err != nil {
		return err
	}
	var goEnv []string
	for _, kv := range b.commandEnv() {
		if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "CGO_") {
			goEnv = append(goEnv, kv)
		}
	}
	slices.Sort(goEnv)
	meta := map[string]string{"go": g.version, "source": source, "env": hashStrings(goEnv...)}
	args := []string{"build", "-trimpath", "-o", g.binDir + string(filepath.Separator)}
	names := make([]string, 0, len(mains))
	for _, m := range mains {
		args = append(args, m.Pkg)
		names = append(names, m.Name)
	}
	_, _, err = b.contribute("go-bin", layerTypes{Launch: true}, meta, func(dir string) error {
		b.logf("-----> Building %s", strings.Join(names, ", "))
		if err := b.exec(ctx, b.env.AppDir, "go", args...); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
		for _, n := range names {
			if !isFile(os.DirFS(g.binDir), n) {
				return fmt.Errorf("go build made no binary %s in %s", n, g.binDir)
			}
		}
		return nil
	})
	return err
}

func (g *goLang) processes(_ context.Context, b *build) ([]process, string, error) {
	if b.replaced {
		return nil, "build.commands.build replaced go build", nil
	}
	var web string
	switch {
	case len(g.mains) > 0 && g.mains[0].Pkg == ".":
		web = g.mains[0].Name
	case len(g.mains) == 1:
		web = g.mains[0].Name
	default:
		for _, m := range g.mains {
			if m.Name == "web" || m.Name == "server" {
				web = m.Name
				break
			}
		}
	}
	if web == "" {
		return nil, "several binaries in cmd/ and none is the root package, cmd/web or cmd/server", nil
	}
	return []process{{Type: "web", Command: []string{filepath.Join(g.binDir, web)}}}, "", nil
}

// goMains lists the main packages of the module in dir: the root package,
// then each cmd/<name>, named as go build names their binaries.
func goMains(dir, goarch string) ([]goMain, error) {
	ctx := gobuild.Default
	ctx.GOOS = "linux"
	if goarch != "" {
		ctx.GOARCH = goarch
	}
	ctx.CgoEnabled = false
	isMain := func(d string) bool {
		pkg, err := ctx.ImportDir(d, 0)
		return err == nil && pkg.Name == "main"
	}
	var mains []goMain
	if isMain(dir) {
		module, err := goModulePath(filepath.Join(dir, "go.mod"))
		if err != nil {
			return nil, err
		}
		mains = append(mains, goMain{Name: goExecName(module), Pkg: "."})
	}
	entries, err := os.ReadDir(filepath.Join(dir, "cmd"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("listing cmd: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !isMain(filepath.Join(dir, "cmd", e.Name())) {
			continue
		}
		m := goMain{Name: e.Name(), Pkg: "./cmd/" + e.Name()}
		if slices.ContainsFunc(mains, func(o goMain) bool { return o.Name == m.Name }) {
			return nil, fmt.Errorf("the root package and cmd/%s would both build a binary named %s", e.Name(), m.Name)
		}
		mains = append(mains, m)
	}
	return mains, nil
}

// goModulePath reads the module path from go.mod.
func goModulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", fmt.Errorf("reading go.mod: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest, _, _ = strings.Cut(rest, "//")
		rest = strings.TrimSpace(rest)
		if unq, err := strconv.Unquote(rest); err == nil {
			rest = unq
		}
		if rest != "" {
			return rest, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading go.mod: %w", err)
	}
	return "", fmt.Errorf("go.mod has no module line")
}

// goExecName is the name go build gives the binary of the package at
// import path p: its last element, or the one before a major-version
// suffix (example.com/app/v2 builds "app").
func goExecName(p string) string {
	elem := path.Base(p)
	if len(elem) >= 2 && elem[0] == 'v' && strings.Trim(elem[1:], "0123456789") == "" && path.Dir(p) != "." {
		elem = path.Base(path.Dir(p))
	}
	return elem
}
