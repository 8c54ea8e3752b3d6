package examples

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/builder"
)

// want is what GET / answers for each example, and the kind of build that
// makes it.
var want = []struct {
	dir, body, kind string
}{
	{"go", "hello from go", builder.KindBuildpacks},
	{"node", "hello from node", builder.KindBuildpacks},
	{"python", "hello from python", builder.KindBuildpacks},
	{"static", "hello from static", builder.KindBuildpacks},
	{"procfile", "hello from procfile", builder.KindBuildpacks},
	{"dockerfile", "hello from dockerfile", builder.KindDockerfile},
}

// requireEngine skips, or fails when CI says the engine must be there
// (APPRUN_REQUIRE_DOCKER=1), so a missing engine can never turn CI green.
func requireEngine(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("APPRUN_REQUIRE_DOCKER") == "1" {
		t.Fatalf("the Docker engine and the builder images are required here: %v", err)
	}
	t.Skipf("skipping: %v (run `apprun builder bootstrap` with a Docker engine)", err)
}

func TestExamplesBuildAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds every example on the Docker engine")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		requireEngine(t, err)
	}
	b, err := builder.New(builder.Config{PackHome: filepath.Join(t.TempDir(), "pack")}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Check(t.Context()); err != nil {
		requireEngine(t, err)
	}
	for _, ex := range want {
		t.Run(ex.dir, func(t *testing.T) {
			image := fmt.Sprintf("apprun-test/example-%s:%d", ex.dir, time.Now().UnixNano())
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_ = b.RemoveCache(ctx, image)
				_ = exec.Command("docker", "rmi", "-f", image).Run()
			})
			var log strings.Builder
			start := time.Now()
			res, err := b.Build(t.Context(), builder.Source{Dir: ex.dir}, builder.Options{Service: "example-" + ex.dir, Image: image, Log: &log})
			if err != nil {
				t.Fatalf("build: %v\n%s", err, log.String())
			}
			t.Logf("built %s (%s) in %s", res.Image, res.Kind, time.Since(start).Round(100*time.Millisecond))
			if res.Kind != ex.kind {
				t.Errorf("built with %s, want %s", res.Kind, ex.kind)
			}
			body, err := runAndGet(t, image)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(body, ex.body) {
				t.Fatalf("GET / answered %q, want it to contain %q", body, ex.body)
			}
		})
	}
}

// runAndGet runs image with its port published on loopback only, waits for
// its first answer to GET /, and removes the container.
func runAndGet(t *testing.T, image string) (string, error) {
	t.Helper()
	out, err := exec.Command("docker", "run", "-d", "--rm", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"-e", "PORT=8080", "-p", "127.0.0.1::8080", image).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker run: %v: %s", err, out)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
	out, err = exec.Command("docker", "port", id, "8080/tcp").Output()
	if err != nil {
		return "", fmt.Errorf("docker port: %v", err)
	}
	addr := strings.TrimSpace(strings.Split(string(out), "\n")[0])
	deadline := time.Now().Add(20 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(data), nil
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, data)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	logs, _ := exec.Command("docker", "logs", id).CombinedOutput()
	return "", errors.Join(fmt.Errorf("no answer from %s within 20s: %w", image, lastErr), fmt.Errorf("container log:\n%s", logs))
}
