package bootstrap_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	packclient "github.com/buildpacks/pack/pkg/client"
	"github.com/buildpacks/pack/pkg/image"
	"github.com/buildpacks/pack/pkg/logging"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun"
	"github.com/apprun/apprun/builder/bootstrap"
)

// skipOrFail skips, except in CI (APPRUN_REQUIRE_DOCKER=1), where a
// missing engine must fail rather than turn the run green.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("APPRUN_REQUIRE_DOCKER") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// dockerOrSkip returns a client of the local engine, or skips the test
// saying why.
func dockerOrSkip(t *testing.T) *client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the bootstrap takes minutes the first time")
	}
	c, err := client.New(client.FromEnv)
	if err != nil {
		skipOrFail(t, "no Docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{}); err != nil {
		c.Close()
		skipOrFail(t, "no Docker engine answers (start dockerd to run this test): %v", err)
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mmdebstrap is not installed: CI must apt-get install mmdebstrap")
		}
		t.Skip("mmdebstrap is not installed (apt-get install mmdebstrap)")
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testDataDir is a data dir that outlives the test, so that the second
// and later runs of the test reuse the lifecycle tarball and take seconds.
func testDataDir(t *testing.T) string {
	if d := os.Getenv("APPRUN_BOOTSTRAP_TEST_DATA"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(cache, "apprun", "bootstrap-test")
}

func TestBootstrapAndBuild(t *testing.T) {
	docker := dockerOrSkip(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()

	level := slog.LevelInfo
	if os.Getenv("APPRUN_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	var progress bytes.Buffer
	cfg := bootstrap.Config{
		DataDir:  testDataDir(t),
		Source:   apprun.BuildpackSource,
		Progress: io.MultiWriter(&progress, t.Output()),
		Log:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level})),
	}

	// APPRUN_BOOTSTRAP_TEST_FORCE=1 remakes everything in the first run:
	// it measures each step with warm Go and apt caches.
	first := cfg
	first.Force = os.Getenv("APPRUN_BOOTSTRAP_TEST_FORCE") != ""
	res, err := bootstrap.Run(ctx, first)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	for _, o := range res.Outputs {
		t.Logf("measure: first run: %-16s %-8s %s", o.Step, o.Action, o.Elapsed.Round(100*time.Millisecond))
	}
	t.Logf("measure: first run total %s", res.Elapsed.Round(100*time.Millisecond))
	checkImages(t, ctx, docker, res)

	// A second run makes nothing, in seconds.
	progress.Reset()
	start := time.Now()
	res2, err := bootstrap.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	t.Logf("measure: second run total %s (Run says %s)", time.Since(start).Round(time.Millisecond), res2.Elapsed.Round(time.Millisecond))
	if built := res2.Built(); len(built) != 0 {
		t.Errorf("second run built %v", built)
	}
	for _, step := range []string{"run image", "build image", "lifecycle", "lifecycle image", "builder image"} {
		if !strings.Contains(progress.String(), "-----> "+step+" ") || !strings.Contains(progress.String(), "(up to date)") {
			t.Errorf("second run: no up-to-date line for %s:\n%s", step, progress.String())
		}
	}
	if res2.Elapsed > 15*time.Second {
		t.Errorf("second run took %s", res2.Elapsed)
	}
	st, err := bootstrap.Check(ctx, cfg)
	if err != nil || !st.Ready() {
		t.Errorf("Check after a run: ready=%v %v %v", st.Ready(), st.NotReady(), err)
	}

	t.Run("rebuilds only what depends on a change", func(t *testing.T) {
		// Another builder name, so that builds running against the real
		// one elsewhere are not disturbed.
		other := cfg
		other.BuilderImage = "apprun-bootstrap-test/builder-" + randomToken(t) + ":bookworm"
		t.Cleanup(func() {
			docker.ImageRemove(context.Background(), other.BuilderImage, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		})
		want := map[string]bootstrap.Action{"buildpacks": bootstrap.ActionBuild, "builder image": bootstrap.ActionBuild}
		for _, edit := range []bool{false, true} {
			if edit {
				// The buildpack source changed: a file added beside the program.
				src := fstest.MapFS{"builder/buildpacks/zz_edit.go": {Data: []byte("package buildpacks\n")}}
				fs.WalkDir(apprun.BuildpackSource, ".", func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						b, _ := fs.ReadFile(apprun.BuildpackSource, p)
						src[p] = &fstest.MapFile{Data: b}
					}
					return err
				})
				other.Source = src
			}
			res, err := bootstrap.Run(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Outputs {
				if got, ok := want[o.Step]; ok && o.Action != got || !ok && o.Action == bootstrap.ActionBuild {
					t.Errorf("edit=%v: %s: %s", edit, o.Step, o.Action)
				}
			}
			t.Logf("measure: builder only (edit=%v): %s", edit, res.Elapsed.Round(100*time.Millisecond))
		}
	})

	// Builds with the builder, in both flows. Their own PACK_HOME keeps
	// their cache volume keys apart from everyone else's.
	t.Setenv("PACK_HOME", t.TempDir())
	app := writeGoApp(t)
	token := randomToken(t)
	cleanupBuilds(t, docker, token)
	pc, err := packclient.NewClient(
		packclient.WithDockerClient(docker),
		packclient.WithLogger(logging.NewLogWithWriters(t.Output(), t.Output())),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, flow := range []struct {
		name    string
		trusted bool
	}{{"untrusted", false}, {"trusted", true}} {
		t.Run(flow.name, func(t *testing.T) {
			img := fmt.Sprintf("apprun-bootstrap-test/hello-%s-%s:latest", token, flow.name)
			build := func() time.Duration {
				start := time.Now()
				err := pc.Build(ctx, packclient.BuildOptions{
					Image:           img,
					Builder:         res.BuilderImage,
					AppPath:         app,
					PullPolicy:      image.PullNever,
					UserID:          -1,
					GroupID:         -1,
					ContainerConfig: packclient.ContainerConfig{Network: "none"},
					TrustBuilder:    func(string) bool { return flow.trusted },
				})
				elapsed := time.Since(start)
				if err != nil {
					t.Fatalf("pack build (%s): %v", flow.name, err)
				}
				// A rebuild may leave the image it replaced dangling, where
				// the tag no longer finds it.
				if info, err := docker.ImageInspect(ctx, img); err == nil {
					t.Cleanup(func() {
						docker.ImageRemove(context.Background(), info.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
					})
				}
				return elapsed
			}
			first := build()
			again := build()
			t.Logf("measure: %s build: first %s, no-change rebuild %s", flow.name, first.Round(100*time.Millisecond), again.Round(100*time.Millisecond))
			if info, err := docker.ImageInspect(ctx, img); err == nil {
				t.Logf("measure: app image %s: %d MB", flow.name, info.Size>>20)
			}
			serveAndGet(t, ctx, docker, img, token)
		})
	}
}

// checkImages asserts the images exist with the labels, user and env the
// builds depend on, and logs their sizes.
func checkImages(t *testing.T, ctx context.Context, docker *client.Client, res bootstrap.Result) {
	t.Helper()
	for _, ref := range []string{res.RunImage, res.BuildImage, res.LifecycleImage, res.BuilderImage} {
		info, err := docker.ImageInspect(ctx, ref)
		if err != nil {
			t.Fatalf("image %s: %v", ref, err)
		}
		t.Logf("measure: image %s: %d MB", ref, info.Size>>20)
		labels := info.Config.Labels
		if !strings.HasPrefix(labels[bootstrap.HashLabel], "sha256:") {
			t.Errorf("%s: no hash label", ref)
		}
		env := strings.Join(info.Config.Env, "\n")
		switch ref {
		case res.RunImage, res.BuildImage, res.BuilderImage:
			if info.Config.User != "1000:1000" {
				t.Errorf("%s: user %q", ref, info.Config.User)
			}
			if labels["io.buildpacks.base.distro.name"] != "debian" || labels["io.buildpacks.base.distro.version"] != "12" {
				t.Errorf("%s: distro labels %v", ref, labels)
			}
		case res.LifecycleImage:
			if labels["io.buildpacks.lifecycle.version"] != "0.21.0" || labels["io.buildpacks.lifecycle.apis"] == "" || labels["io.buildpacks.builder.metadata"] == "" {
				t.Errorf("%s: lifecycle labels %v", ref, labels)
			}
			if info.Config.WorkingDir != "/layers" {
				t.Errorf("%s: workdir %q", ref, info.Config.WorkingDir)
			}
		}
		if ref == res.BuildImage || ref == res.BuilderImage {
			for _, want := range []string{"CNB_USER_ID=1000", "CNB_GROUP_ID=1000", "HOME=/home/cnb", "PATH=/usr/local/go/bin:"} {
				if !strings.Contains(env, want) {
					t.Errorf("%s: env lacks %s:\n%s", ref, want, env)
				}
			}
		}
		if ref == res.BuildImage || ref == res.LifecycleImage {
			v, err := docker.ServerVersion(ctx, client.ServerVersionOptions{})
			if err == nil && v.APIVersion < "1.44" && !strings.Contains(env, "DOCKER_API_VERSION="+v.APIVersion) {
				t.Errorf("%s: no DOCKER_API_VERSION=%s for this engine:\n%s", ref, v.APIVersion, env)
			}
		}
	}
}

// writeGoApp writes a dependency-free Go web app that serves $PORT.
func writeGoApp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.26\n",
		"main.go": `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from apprun")
	})
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveAndGet runs img with a port published on loopback and expects the
// app's answer on GET /.
func serveAndGet(t *testing.T, ctx context.Context, docker *client.Client, img, token string) {
	t.Helper()
	port := network.MustParsePort("8080/tcp")
	created, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "apprun-bootstrap-test-" + token + "-" + strings.ReplaceAll(filepath.Base(img), ":", "-"),
		Config: &container.Config{
			Image:        img,
			Env:          []string{"PORT=8080"},
			ExposedPorts: network.PortSet{port: {}},
			Labels:       map[string]string{"io.apprun.test": token},
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
		},
	})
	if err != nil {
		t.Fatalf("creating a container of %s: %v", img, err)
	}
	t.Cleanup(func() {
		docker.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	})
	start := time.Now()
	if _, err := docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting %s: %v", img, err)
	}
	insp, err := docker.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bindings := insp.Container.NetworkSettings.Ports[port]
	if len(bindings) == 0 {
		t.Fatalf("no published port: %+v", insp.Container.NetworkSettings.Ports)
	}
	url := "http://127.0.0.1:" + bindings[0].HostPort + "/"
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "hello from apprun\n" {
				t.Fatalf("GET / = %d %q", resp.StatusCode, body)
			}
			t.Logf("measure: container start to first 200: %s", time.Since(start).Round(10*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			logs, _ := docker.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "30"})
			var out bytes.Buffer
			if logs != nil {
				io.Copy(&out, logs)
				logs.Close()
			}
			t.Fatalf("GET %s: %v\ncontainer output:\n%s", url, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cleanupBuilds removes, after the test, the app images (every tag and the
// ones replaced by rebuilds) and the cache volumes of the builds, which
// pack names after the image, so the token finds them.
func cleanupBuilds(t *testing.T, docker *client.Client, token string) {
	t.Cleanup(func() {
		ctx := context.Background()
		imgs, err := docker.ImageList(ctx, client.ImageListOptions{All: true})
		if err == nil {
			for _, img := range imgs.Items {
				if slices.ContainsFunc(img.RepoTags, func(tag string) bool { return strings.Contains(tag, token) }) {
					docker.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
				}
			}
		}
		vols, err := docker.VolumeList(ctx, client.VolumeListOptions{})
		if err == nil {
			for _, v := range vols.Items {
				if strings.HasPrefix(v.Name, "pack-cache-") && strings.Contains(v.Name, token) {
					if _, err := docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
						t.Logf("removing volume %s: %v", v.Name, err)
					}
				}
			}
		}
	})
}

func randomToken(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
