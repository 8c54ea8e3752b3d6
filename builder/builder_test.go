package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRequestKey(t *testing.T) {
	d := t.TempDir()
	write(t, d, "main.go", "package main")
	base := Options{Service: "svc", Image: "apprun/app-1:1", Env: map[string]string{"A": "1"}}
	key := func(o Options) string {
		t.Helper()
		k, err := requestKey(Source{Dir: d}, o, "none")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key(base)
	same := base
	same.Log = os.Stderr // where the log goes does not change the build
	if key(same) != k0 {
		t.Fatal("the log writer changed the key")
	}
	for name, change := range map[string]func(*Options){
		"service": func(o *Options) { o.Service = "other" },
		"image":   func(o *Options) { o.Image = "apprun/app-1:2" },
		"env":     func(o *Options) { o.Env = map[string]string{"A": "2"} },
		"secret":  func(o *Options) { o.Secrets = map[string]string{"S": "x"} },
		"expose":  func(o *Options) { o.SecretsInEnv = true },
		"prev":    func(o *Options) { o.PreviousImage = "apprun/app-1:0" },
	} {
		o := base
		change(&o)
		if key(o) == k0 {
			t.Errorf("changing %s kept the key", name)
		}
	}
	write(t, d, "main.go", "package main // changed")
	if key(base) == k0 {
		t.Fatal("a source change kept the key")
	}
	must(t, os.Chmod(filepath.Join(d, "main.go"), 0o755))
	k1 := key(base)
	must(t, os.Chmod(filepath.Join(d, "main.go"), 0o644))
	if key(base) == k1 {
		t.Fatal("the execute bit is not in the key")
	}
}

func TestCacheVolumes(t *testing.T) {
	b := &Builder{volumeKey: "k1"}
	v1 := b.cacheVolumes("apprun/app-abc:1")
	if v1 != b.cacheVolumes("apprun/app-abc:2") {
		t.Fatal("a new tag of the same repository got new caches")
	}
	if v1 == b.cacheVolumes("apprun/app-def:1") {
		t.Fatal("two repositories share caches")
	}
	if v1 == (&Builder{volumeKey: "k2"}).cacheVolumes("apprun/app-abc:1") {
		t.Fatal("two installations share caches")
	}
	for _, v := range v1 {
		if !strings.HasPrefix(v, "apprun-cache-apprun_app-abc-") {
			t.Errorf("volume %q", v)
		}
	}
	for in, want := range map[string]string{
		"apprun/app-x:3": "apprun/app-x", "localhost:5000/app:1": "localhost:5000/app",
		"localhost:5000/app": "localhost:5000/app", "app@sha256:00": "app",
	} {
		if got := repository(in); got != want {
			t.Errorf("repository(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadVolumeKeyIsStable(t *testing.T) {
	home := filepath.Join(t.TempDir(), "pack")
	k1, err := loadVolumeKey(home)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadVolumeKey(home)
	if err != nil || k1 != k2 || len(k1) < 16 {
		t.Fatalf("keys %q, %q, %v", k1, k2, err)
	}
}

func TestProcesses(t *testing.T) {
	labels := map[string]string{"io.buildpacks.build.metadata": `{"processes":[
		{"type":"web","command":["/workspace/bin/server"],"args":["-v"],"direct":true,"buildpackID":"apprun/go"},
		{"type":"worker","command":["sh -c ./work"],"direct":false}]}`}
	got := processes(labels)
	if len(got) != 2 || got[0].Type != "web" || got[0].Command != "/workspace/bin/server -v" || got[1].Type != "worker" {
		t.Fatalf("got %+v", got)
	}
	if processes(map[string]string{}) != nil || processes(map[string]string{"io.buildpacks.build.metadata": "{"}) != nil {
		t.Fatal("processes from nothing")
	}
}

func TestBuildLogTailAndCleaning(t *testing.T) {
	var out recordWriter
	l := newBuildLog(&out, []string{"topsecret"})
	l.Step("Building with buildpacks (builder %s)", DefaultBuilderImage)
	fmt.Fprintf(l, "\x1b[0;32m===> DETECTING\x1b[0m\n")
	fmt.Fprintf(l, "Warning: Detected pack is running in a container; whatever\n")
	fmt.Fprintf(l, "[exporter] Warning: Did not find SBOM lifecycle.sbom.cdx.json in /cnb/lifecycle\n")
	fmt.Fprintf(l, "Warning: Did not find SBOM launcher.sbom.cdx.json in /cnb/lifecycle\n")
	for i := range 30 {
		fmt.Fprintf(l, "line %d topsecret\n", i)
	}
	fmt.Fprint(l, "unfinished")
	tail := l.Tail()
	l.Close()
	fmt.Fprintln(l, "late line") // a container stream outliving the build
	if len(tail) != tailLines || tail[len(tail)-1] != "unfinished" || tail[0] != "line 11 ****" {
		t.Fatalf("tail %q", tail)
	}
	log := out.String()
	if !strings.HasPrefix(log, "-----> Building with buildpacks (builder apprun/builder:bookworm)\n===> DETECTING\nline 0 ****\n") {
		t.Fatalf("log starts %q", log[:min(len(log), 200)])
	}
	if strings.Contains(log, "topsecret") || strings.Contains(log, "late line") || strings.Contains(log, "Warning: Detected pack") || strings.Contains(log, "SBOM") {
		t.Fatalf("log %q", log)
	}
}

func TestBuildErrorMessage(t *testing.T) {
	err := &BuildError{Err: fmt.Errorf("building x: %w", &timeLimitError{limit: 15 * time.Minute}), Tail: []string{"a", "b"}}
	if !errors.Is(err, ErrTimeLimit) {
		t.Fatal("not ErrTimeLimit")
	}
	want := "building x: build exceeded its 15m0s limit\nlast lines of the build log:\n  a\n  b"
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err.Error(), want)
	}
}

func TestCheckOptions(t *testing.T) {
	b := &Builder{cfg: Config{Network: "none"}}
	good := Options{Service: "svc", Image: "apprun/app-1:1"}
	for name, o := range map[string]Options{
		"no service":   {Image: "apprun/app-1:1"},
		"no image":     {Service: "svc"},
		"digest image": {Service: "svc", Image: "app@sha256:00"},
		"bad env":      {Service: "svc", Image: "a:1", Env: map[string]string{"1BAD": "x"}},
		"host network": {Service: "svc", Image: "a:1", Network: "host"},
	} {
		if _, err := b.checkOptions(&Source{Dir: "."}, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	src := Source{Dir: "."}
	n, err := b.checkOptions(&src, good)
	if err != nil || n != "none" || !filepath.IsAbs(src.Dir) {
		t.Fatalf("got %q, %v, %q", n, err, src.Dir)
	}
}
