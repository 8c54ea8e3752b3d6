package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/builder"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// buildServer is the API with the real builder behind it, in-process.
func buildServer(t *testing.T) (env map[string]string, b *builder.Builder) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds on the Docker engine")
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	b, err := builder.New(builder.Config{PackHome: filepath.Join(t.TempDir(), "pack")}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := b.Check(ctx); err != nil {
		if os.Getenv("APPRUN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("the Docker engine and the builder images are required here: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	dataDir := t.TempDir()
	st, err := store.Open(t.Context(), store.Config{DataDir: dataDir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	token, _, err := st.CreateToken(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	ready := newReadiness()
	ready.finish(nil)
	srv, err := web.New(web.Config{Builder: &buildService{b: b, st: st, dataDir: dataDir, ready: ready, log: log}}, st, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return map[string]string{"APPRUN_SERVER": ts.URL, "APPRUN_TOKEN": token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}, b
}

func TestCLIBuildThroughTheAPI(t *testing.T) {
	env, b := buildServer(t)
	name := "clitest-" + strings.ToLower(randomSuffix(t))
	image := "apprun/build-" + name + ":latest"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = b.RemoveCache(ctx, image)
		_ = exec.Command("docker", "rmi", "-f", image).Run()
	})
	code, out, errs := cli(t, env, "", "build", filepath.Join("..", "..", "examples", "static"), "--name", name)
	if code != 0 {
		t.Fatalf("apprun build: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if out != image+"\n" {
		t.Errorf("stdout %q, want only the image %q", out, image)
	}
	for _, want := range []string{"-----> Uploading source", "-----> Receiving source", "-----> Done in"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}

	// Source no buildpack detects: a clear error naming what was looked
	// for, a non-zero exit, and no image.
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "README.txt"), "nothing to build here\n")
	code, _, errs = cli(t, env, "", "build", empty, "--name", name+"-none")
	if code == 0 || !strings.Contains(errs, "go.mod") || !strings.Contains(errs, "package.json") {
		t.Fatalf("nothing-detected build: exit %d, stderr:\n%s", code, errs)
	}
	if err := exec.Command("docker", "image", "inspect", "apprun/build-"+name+"-none:latest").Run(); err == nil {
		t.Errorf("a failed build left an image tagged")
	}
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	id, err := randomID()
	if err != nil {
		t.Fatal(err)
	}
	return id[:8]
}
