package builder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// These tests build for real on the Docker engine, with the images
// `apprun builder bootstrap` makes. They skip, saying why, under -short,
// when no engine answers, or when an image is missing.

// engineBuilder returns a Builder with its own PACK_HOME (so its own cache
// volumes), removed with everything the test built.
func engineBuilder(t *testing.T, change func(*Config)) *Builder {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping builds on the Docker engine")
	}
	cfg := Config{PackHome: filepath.Join(t.TempDir(), "pack"), MaxConcurrent: 2}
	if change != nil {
		change(&cfg)
	}
	b, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := b.Check(ctx); err != nil {
		// In CI (APPRUN_REQUIRE_DOCKER=1) a missing engine or image is a
		// failure, so it can never turn CI green by skipping.
		if os.Getenv("APPRUN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("the Docker engine and the builder images are required here: %v", err)
		}
		if errors.Is(err, ErrMissingImage) {
			t.Skipf("skipping: %v", err)
		}
		t.Skipf("skipping: no Docker engine answers: %v", err)
	}
	return b
}

// testImage names an image for this test and removes it, and the build
// caches of its repository, when the test ends.
func testImage(t *testing.T, b *Builder, tags ...string) string {
	t.Helper()
	repo := "apprun-test/app-" + strings.ToLower(rand8())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, tag := range append([]string{"1"}, tags...) {
			b.engine.ImageRemove(ctx, repo+":"+tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
		if err := b.RemoveCache(ctx, repo); err != nil {
			t.Errorf("removing caches: %v", err)
		}
	})
	return repo
}

// removeLabelled removes the images a Dockerfile test made, intermediate
// ones included: the legacy builder keeps the steps before a failure as
// untagged cache images, and a LABEL right after FROM marks every one.
func removeLabelled(t *testing.T, b *Builder, marker string) {
	t.Cleanup(func() {
		cli, ok := b.packDocker.(*client.Client)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		list, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: make(client.Filters).Add("label", "apprun-test="+marker)})
		if err != nil {
			t.Errorf("listing test images: %v", err)
			return
		}
		// Children before parents: the list is newest first.
		for _, img := range list.Items {
			cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
	})
}

func rand8() string {
	return fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff)
}

// goApp writes a dependency-free Go web app, with extra files.
func goApp(t *testing.T, extra map[string]string) string {
	d := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.26\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\nfunc main() {\n\thttp.HandleFunc(\"/\", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, \"hello\") })\n\thttp.ListenAndServe(\":8080\", nil)\n}\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	for name, body := range files {
		write(t, d, name, body)
	}
	return d
}

// assertNoTag fails if the image tag exists.
func assertNoTag(t *testing.T, b *Builder, image string) {
	t.Helper()
	if id := b.imageID(t.Context(), image); id != "" {
		t.Errorf("%s is tagged (%s) after a failed build", image, id)
	}
}

// assertNoContainers fails if any container of the service (labelled by
// pack's builds) or running a command holding marker (Dockerfile builds'
// intermediate containers) is left, after giving the engine a few seconds
// to finish removing them.
func assertNoContainers(t *testing.T, b *Builder, service, marker string) {
	t.Helper()
	var left []string
	for range 20 {
		left = left[:0]
		list, err := b.engine.ContainerList(t.Context(), client.ContainerListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list.Items {
			if c.Labels[labelService] == service || (marker != "" && strings.Contains(c.Command, marker)) {
				left = append(left, c.ID[:12]+" "+c.Command)
			}
		}
		if len(left) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("containers left behind: %q", left)
}

func TestEngineBuildGoAppAndRebuild(t *testing.T) {
	b := engineBuilder(t, nil)
	repo := testImage(t, b, "2")
	src := goApp(t, nil)
	service := "go-" + rand8()
	var log syncBuffer
	res, err := b.Build(t.Context(), Source{Dir: src}, Options{Service: service, Image: repo + ":1", Log: &log})
	if err != nil {
		t.Fatalf("build: %v\nlog:\n%s", err, log.String())
	}
	t.Logf("first build: %s", res.Duration)
	if res.Kind != KindBuildpacks || !strings.HasPrefix(res.Digest, "sha256:") || res.Image != repo+":1" {
		t.Fatalf("result %+v", res)
	}
	if len(res.Processes) == 0 || res.Processes[0].Type != "web" {
		t.Errorf("processes %+v, want web", res.Processes)
	}
	out := log.String()
	for _, want := range []string{
		"-----> Building with buildpacks (builder apprun/builder:bookworm)\n",
		"-----> Built " + repo + ":1 (sha256:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("log holds terminal escapes")
	}

	// A rebuild with no change reuses the caches and the previous image.
	log = syncBuffer{}
	res2, err := b.Build(t.Context(), Source{Dir: src}, Options{Service: service, Image: repo + ":2", PreviousImage: repo + ":1", Log: &log})
	if err != nil {
		t.Fatalf("rebuild: %v\nlog:\n%s", err, log.String())
	}
	t.Logf("no-change rebuild: %s", res2.Duration)
	if res2.Duration > res.Duration {
		t.Errorf("the no-change rebuild (%s) was slower than the first build (%s)", res2.Duration, res.Duration)
	}
}

// A build command that fails ends the build with its output in the
// error, and nothing tagged. The commands also print the limits the build
// container runs under (cgroup v1 or v2), which must be the configured
// ones.
func TestEngineFailingBuildCommand(t *testing.T) {
	b := engineBuilder(t, func(c *Config) { c.MemoryMB, c.PidsLimit, c.CPUs = 512, 300, 1 })
	repo := testImage(t, b)
	service := "fail-" + rand8()
	src := goApp(t, map[string]string{"apprun.yaml": `version: 1.0
build:
  commands:
    build:
      - echo "memory $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
      - echo "pids $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
      - echo "cpu $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max)"
      - grep NoNewPrivs /proc/self/status
      - echo "interfaces $(ls /sys/class/net | tr '\n' ' ')"
      - echo about to fail
      - exit 3
`})
	var log syncBuffer
	_, err := b.Build(t.Context(), Source{Dir: src}, Options{Service: service, Image: repo + ":1", Log: &log})
	var be *BuildError
	if !errors.As(err, &be) || !errors.Is(err, ErrBuildFailed) {
		t.Fatalf("got %v, want a BuildError wrapping ErrBuildFailed", err)
	}
	t.Logf("error as the caller sees it:\n%v", err)
	if !strings.Contains(strings.Join(be.Tail, "\n"), "about to fail") || len(be.Tail) > tailLines {
		t.Errorf("tail %q lacks the failing command's output", be.Tail)
	}
	for _, want := range []string{"memory 536870912", "pids 300", "cpu 100000", "NoNewPrivs:\t1", "interfaces lo \n"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the build container does not run with %q:\n%s", want, log.String())
		}
	}
	if !strings.Contains(log.String(), "-----> Build failed") {
		t.Errorf("log does not end with the failure:\n%s", log.String())
	}
	assertNoTag(t, b, repo+":1")
	assertNoContainers(t, b, service, "")
}

func TestEngineSecretsNeverInLog(t *testing.T) {
	b := engineBuilder(t, nil)
	repo := testImage(t, b)
	const canary = "canary-9f3b2c71e5"
	src := goApp(t, map[string]string{"apprun.yaml": "version: 1.0\nbuild:\n  commands:\n    pre-build:\n      - echo \"token is $API_TOKEN\"\n      - printf '%s' \"$API_TOKEN\" | base64\n"})
	var log syncBuffer
	_, err := b.Build(t.Context(), Source{Dir: src}, Options{
		Service: "secret-" + rand8(), Image: repo + ":1", Log: &log,
		Secrets: map[string]string{"API_TOKEN": canary}, SecretsInEnv: true,
	})
	if err != nil {
		t.Fatalf("build: %v\nlog:\n%s", err, log.String())
	}
	out := log.String()
	if strings.Contains(out, canary) || strings.Contains(out, "Y2FuYXJ5LTlmM2IyYzcxZTU") {
		t.Fatalf("the secret reached the log:\n%s", out)
	}
	if !strings.Contains(out, "token is ****") {
		t.Errorf("the masked line is missing:\n%s", out)
	}
}

func TestEngineDockerfile(t *testing.T) {
	b := engineBuilder(t, nil)
	repo := testImage(t, b)
	d := t.TempDir()
	write(t, d, "Dockerfile", "FROM apprun/run:bookworm\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n")
	write(t, d, "hello.txt", "hello from a Dockerfile\n")
	write(t, d, "ignored.txt", "not sent\n")
	write(t, d, ".dockerignore", "ignored.txt\n")
	write(t, d, "apprun.yaml", "version: 1.0\nbuild:\n  dockerfile: Dockerfile\n")
	service := "df-" + rand8()
	var log syncBuffer
	res, err := b.Build(t.Context(), Source{Dir: d}, Options{Service: service, Image: repo + ":1", Log: &log})
	if err != nil {
		t.Fatalf("build: %v\nlog:\n%s", err, log.String())
	}
	t.Logf("Dockerfile build: %s", res.Duration)
	if res.Kind != KindDockerfile || res.Digest != b.imageID(t.Context(), repo+":1") {
		t.Fatalf("result %+v", res)
	}
	img, err := b.engine.ImageInspect(t.Context(), repo+":1")
	if err != nil || img.Config.Labels[labelService] != service {
		t.Fatalf("image labels: %v %v", img.Config, err)
	}
	out := log.String()
	for _, want := range []string{"-----> Using the Dockerfile Dockerfile, as apprun.yaml asks", "-----> Building with the Dockerfile Dockerfile", "hello from a Dockerfile", "-----> Built "} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// A failing RUN leaves no tag and no container; the steps before it ran
// under the configured memory limit, with no network but loopback.
func TestEngineDockerfileRunFails(t *testing.T) {
	b := engineBuilder(t, func(c *Config) { c.MemoryMB = 512 })
	repo := testImage(t, b)
	marker := "marker-" + rand8()
	d := t.TempDir()
	removeLabelled(t, b, marker)
	write(t, d, "Dockerfile", "FROM apprun/run:bookworm\nLABEL apprun-test="+marker+"\n"+
		"RUN echo \"memory $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)\"\n"+
		"RUN echo \"interfaces $(ls /sys/class/net | tr '\\n' ' ')\"\n"+
		"RUN echo "+marker+" && exit 7\n")
	service := "dffail-" + rand8()
	_, err := b.Build(t.Context(), Source{Dir: d}, Options{Service: service, Image: repo + ":1"})
	var be *BuildError
	if !errors.As(err, &be) || !errors.Is(err, ErrBuildFailed) || !strings.Contains(err.Error(), "non-zero code: 7") {
		t.Fatalf("got %v", err)
	}
	t.Logf("error as the caller sees it:\n%v", err)
	for _, want := range []string{"memory 536870912", "interfaces lo \n", marker} {
		if !strings.Contains(strings.Join(be.Tail, "\n")+"\n", want) {
			t.Errorf("the tail lacks %q", want)
		}
	}
	assertNoTag(t, b, repo+":1")
	assertNoContainers(t, b, service, marker)
}

func TestEngineTimeLimit(t *testing.T) {
	t.Run("buildpacks", func(t *testing.T) {
		b := engineBuilder(t, func(c *Config) { c.TimeLimit = 8 * time.Second })
		repo := testImage(t, b)
		service := "slow-" + rand8()
		src := goApp(t, map[string]string{"apprun.yaml": "version: 1.0\nbuild:\n  commands:\n    pre-build:\n      - sleep 120\n"})
		start := time.Now()
		_, err := b.Build(t.Context(), Source{Dir: src}, Options{Service: service, Image: repo + ":1"})
		if !errors.Is(err, ErrTimeLimit) || !strings.Contains(err.Error(), "build exceeded its 8s limit") {
			t.Fatalf("got %v", err)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("stopping took %s", took)
		}
		assertNoTag(t, b, repo+":1")
		assertNoContainers(t, b, service, "")
	})
	t.Run("dockerfile", func(t *testing.T) {
		b := engineBuilder(t, func(c *Config) { c.TimeLimit = 4 * time.Second })
		repo := testImage(t, b)
		marker := "marker-" + rand8()
		d := t.TempDir()
		removeLabelled(t, b, marker)
		write(t, d, "Dockerfile", "FROM apprun/run:bookworm\nLABEL apprun-test="+marker+"\nRUN echo "+marker+" && sleep 120\n")
		service := "dfslow-" + rand8()
		_, err := b.Build(t.Context(), Source{Dir: d}, Options{Service: service, Image: repo + ":1"})
		if !errors.Is(err, ErrTimeLimit) || !strings.Contains(err.Error(), "build exceeded its 4s limit") {
			t.Fatalf("got %v", err)
		}
		assertNoTag(t, b, repo+":1")
		assertNoContainers(t, b, service, marker)
	})
}

func TestEngineCancel(t *testing.T) {
	b := engineBuilder(t, nil)
	repo := testImage(t, b)
	service := "cancel-" + rand8()
	src := goApp(t, map[string]string{"apprun.yaml": "version: 1.0\nbuild:\n  commands:\n    pre-build:\n      - sleep 120\n"})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(6*time.Second, cancel)
	_, err := b.Build(ctx, Source{Dir: src}, Options{Service: service, Image: repo + ":1"})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("got %v, want ErrCancelled", err)
	}
	// The caller is told at once; the build stops and cleans up behind.
	b.Close()
	assertNoTag(t, b, repo+":1")
	assertNoContainers(t, b, service, "")
}

// A builder other than apprun's own is not second-guessed: its lifecycle
// detects, and when nothing passes the build falls back to the Dockerfile.
// A copy of apprun's builder under another name stands in for a Paketo
// builder, which cannot be pulled here.
func TestEngineForeignBuilderFallsBack(t *testing.T) {
	own := engineBuilder(t, nil) // skips unless apprun's images are there
	foreign := "apprun-test/foreign-builder:" + rand8()
	if _, err := own.engine.ImageTag(t.Context(), client.ImageTagOptions{Source: DefaultBuilderImage, Target: foreign}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { own.engine.ImageRemove(context.Background(), foreign, client.ImageRemoveOptions{}) })
	b, err := New(Config{PackHome: own.cfg.PackHome, BuilderImage: foreign}, own.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	repo := testImage(t, b)

	d := t.TempDir()
	write(t, d, "main.c", "int main(void) { return 0; }\n")
	_, err = b.Build(t.Context(), Source{Dir: d}, Options{Service: "foreign-" + rand8(), Image: repo + ":1"})
	var be *BuildError
	if !errors.As(err, &be) || !errors.Is(err, ErrNothingDetected) || !strings.Contains(strings.Join(be.Tail, "\n"), detectFailed) {
		t.Fatalf("got %v", err)
	}

	write(t, d, "Dockerfile", "FROM apprun/run:bookworm\nCOPY main.c /src/main.c\n")
	var log syncBuffer
	res, err := b.Build(t.Context(), Source{Dir: d}, Options{Service: "foreign-" + rand8(), Image: repo + ":1", Log: &log})
	if err != nil {
		t.Fatalf("build: %v\nlog:\n%s", err, log.String())
	}
	if res.Kind != KindDockerfile || !strings.Contains(log.String(), "-----> No buildpack detected the source; using its Dockerfile") {
		t.Fatalf("result %+v, log:\n%s", res, log.String())
	}
}

// Two services build at once, and an identical request joins one of them.
func TestEngineConcurrentAndSharedBuilds(t *testing.T) {
	b := engineBuilder(t, func(c *Config) { c.MaxConcurrent = 2 })
	repoA, repoB := testImage(t, b), testImage(t, b)
	srcA := goApp(t, nil)
	srcB := goApp(t, map[string]string{"extra.go": "package main\n\nvar extra = 1\n"})
	type outcome struct {
		res Result
		err error
		log *syncBuffer
	}
	results := make([]outcome, 3)
	var wg sync.WaitGroup
	start := time.Now()
	for i, req := range []struct {
		src, service, image string
	}{{srcA, "a-" + repoA[len(repoA)-8:], repoA + ":1"}, {srcB, "b-" + repoB[len(repoB)-8:], repoB + ":1"}, {srcA, "a-" + repoA[len(repoA)-8:], repoA + ":1"}} {
		results[i].log = &syncBuffer{}
		wg.Go(func() {
			results[i].res, results[i].err = b.Build(t.Context(), Source{Dir: req.src}, Options{Service: req.service, Image: req.image, Log: results[i].log})
		})
	}
	wg.Wait()
	t.Logf("two builds at once, one shared: %s", time.Since(start))
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("build %d: %v\n%s", i, r.err, r.log)
		}
	}
	if results[0].res.Digest != results[2].res.Digest || results[0].log.String() != results[2].log.String() {
		t.Errorf("the identical request did not share the build and its log")
	}
	if strings.Count(results[0].log.String(), "-----> Building with buildpacks") != 1 {
		t.Errorf("shared log:\n%s", results[0].log)
	}
}
