package buildpacks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// This file and fakelaunch_test.go are a fake lifecycle: enough of the CNB
// platform to detect, build, "export" and launch an app on the host, with
// the host's go, node and python3 standing in for the build and run images.

// testDir holds what the tests share: the program and the Go cache.
var testDir = sync.OnceValues(func() (string, error) {
	return os.MkdirTemp("", "apprun-buildpack-test")
})

// multiCallBinary builds cmd/apprun-buildpack once for the test run.
var multiCallBinaryOnce = sync.OnceValues(func() (string, error) {
	dir, err := testDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "apprun-buildpack")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/apprun-buildpack")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building apprun-buildpack: %v\n%s", err, out)
	}
	return path, nil
})

func multiCallBinary(t *testing.T) string {
	t.Helper()
	path, err := multiCallBinaryOnce()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// sharedGoCache stands in for a warm go-cache layer, so the Go builds of
// the tests compile the standard library once, not once per test.
var sharedGoCache = sync.OnceValues(func() (string, error) {
	base, err := testDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "go-cache")
	for _, d := range []string{"mod", "path"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	// The build cache is the host's own, so that the standard library
	// compiled with -trimpath stays warm from one test run to the next.
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return "", err
	}
	if err := os.Symlink(strings.TrimSpace(string(out)), filepath.Join(dir, "build")); err != nil {
		return "", err
	}
	return dir, nil
})

var goVersion = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	return strings.TrimSpace(string(out)), err
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := testDir(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// syncBuffer is a build log that the build's commands may write from
// several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// fakeCNB is one app under the fake lifecycle.
type fakeCNB struct {
	t                         *testing.T
	src                       string
	app, platform, layersRoot string
	out                       *syncBuffer
	group                     []string
}

func newFakeCNB(t *testing.T, src string) *fakeCNB {
	t.Helper()
	root := t.TempDir()
	f := &fakeCNB{
		t:          t,
		src:        src,
		app:        filepath.Join(root, "workspace"),
		platform:   filepath.Join(root, "platform"),
		layersRoot: filepath.Join(root, "layers"),
		out:        &syncBuffer{},
	}
	for _, d := range []string{f.app, filepath.Join(f.platform, "env"), f.layersRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(f.app, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return f
}

// newFakeApp makes an app from files (name → content) and returns it under
// the fake lifecycle.
func newFakeApp(t *testing.T, files map[string]string) *fakeCNB {
	t.Helper()
	src := t.TempDir()
	for name, content := range files {
		if err := writeFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return newFakeCNB(t, src)
}

// setPlatformEnv sets a user build env variable.
func (f *fakeCNB) setPlatformEnv(name, value string) {
	if err := os.WriteFile(filepath.Join(f.platform, "env", name), []byte(value), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeCNB) layersDir(id string) string {
	return filepath.Join(f.layersRoot, strings.ReplaceAll(id, "/", "_"))
}

// env is the Env the lifecycle would give buildpack id.
func (f *fakeCNB) env(id string) Env {
	var environ []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PORT" || k == NetworkEnv || strings.HasPrefix(k, "CNB_") {
			continue
		}
		environ = append(environ, kv)
	}
	dir := f.layersDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return Env{
		AppDir:      f.app,
		PlatformDir: f.platform,
		LayersDir:   dir,
		PlanPath:    filepath.Join(f.layersRoot, "plan.toml"),
		Environ:     environ,
		Self:        multiCallBinary(f.t),
		Stdout:      f.out,
		Stderr:      f.out,
	}
}

// detect resolves the builder's order as the lifecycle does and keeps the
// chosen group; it returns the group (nil when none passed).
func (f *fakeCNB) detect() []string {
	f.t.Helper()
	f.group = nil
	for _, g := range Order() {
		var pass []string
		ok := true
		for _, e := range g {
			passed, err := Detect(e.ID, f.env(e.ID))
			if err != nil {
				f.t.Fatalf("detect %s: %v", e.ID, err)
			}
			if passed {
				pass = append(pass, e.ID)
			} else if !e.Optional {
				ok = false
				break
			}
		}
		if ok && len(pass) > 0 {
			f.group = pass
			return pass
		}
	}
	return nil
}

// build runs detection (the first time) and every buildpack of the group.
func (f *fakeCNB) build() error {
	f.t.Helper()
	if f.group == nil && f.detect() == nil {
		f.t.Fatalf("no buildpack group passed detection:\n%s", f.out)
	}
	for _, id := range f.group {
		if err := Build(context.Background(), id, f.env(id)); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	return nil
}

func (f *fakeCNB) mustBuild() {
	f.t.Helper()
	if err := f.build(); err != nil {
		f.t.Fatalf("build: %v\n%s", err, f.out)
	}
}

// restore does what the lifecycle does between two builds of the same
// app: the app directory is a fresh copy of the source, launch.toml is
// gone, cache layers come back whole, launch-only layers come back as
// metadata alone (re-encoded, as the lifecycle re-encodes them) and all
// other layers are gone.
func (f *fakeCNB) restore() {
	f.t.Helper()
	if err := os.RemoveAll(f.app); err != nil {
		f.t.Fatal(err)
	}
	if err := os.CopyFS(f.app, os.DirFS(f.src)); err != nil {
		f.t.Fatal(err)
	}
	for _, id := range f.group {
		dir := f.layersDir(id)
		os.Remove(filepath.Join(dir, "launch.toml"))
		tomls, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
		for _, p := range tomls {
			data, err := os.ReadFile(p)
			if err != nil {
				f.t.Fatal(err)
			}
			types := layerTypesOf(string(data))
			layer := strings.TrimSuffix(p, ".toml")
			if !types.Cache {
				os.RemoveAll(layer)
			}
			if !types.Cache && !types.Launch {
				os.Remove(p)
				continue
			}
			var b strings.Builder
			b.WriteString("[metadata]\n")
			for k, v := range tomlStrings(string(data), "metadata") {
				fmt.Fprintf(&b, "%s = %q\n", k, v)
			}
			if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
				f.t.Fatal(err)
			}
		}
	}
}

// layerTypesOf reads the [types] table of a layer TOML.
func layerTypesOf(doc string) layerTypes {
	var t layerTypes
	table := ""
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[]")
			continue
		}
		if table != "types" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		on := strings.TrimSpace(v) == "true"
		switch strings.TrimSpace(k) {
		case "launch":
			t.Launch = on
		case "build":
			t.Build = on
		case "cache":
			t.Cache = on
		}
	}
	return t
}

// seedGoCache links the go buildpack's cache layer to the shared warm
// cache, as if a previous build had left it.
func (f *fakeCNB) seedGoCache() {
	f.t.Helper()
	cache, err := sharedGoCache()
	if err != nil {
		f.t.Fatal(err)
	}
	version, err := goVersion()
	if err != nil {
		f.t.Fatal(err)
	}
	dir := f.layersDir(IDGo)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(cache, filepath.Join(dir, "go-cache")); err != nil {
		f.t.Fatal(err)
	}
	meta := map[string]string{"go": version, "format": layerFormat}
	if err := os.WriteFile(filepath.Join(dir, "go-cache.toml"), []byte(layerTOML(layerTypes{Cache: true}, meta)), 0o644); err != nil {
		f.t.Fatal(err)
	}
}
