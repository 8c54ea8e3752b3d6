package builder

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// fakeEngine is an engine with no images and no containers; it records
// what was asked of it. Builds that fail before reaching Docker are
// tested with it.
type fakeEngine struct {
	inspected []string
	builds    int
}

var errNoSuchImage = cerrdefs.ErrNotFound.WithMessage("no such image")

func (f *fakeEngine) ImageBuild(context.Context, io.Reader, client.ImageBuildOptions) (client.ImageBuildResult, error) {
	f.builds++
	return client.ImageBuildResult{}, errors.New("fake engine builds nothing")
}

func (f *fakeEngine) ImageInspect(_ context.Context, image string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	f.inspected = append(f.inspected, image)
	return client.ImageInspectResult{}, errNoSuchImage
}

func (f *fakeEngine) ImageTag(context.Context, client.ImageTagOptions) (client.ImageTagResult, error) {
	return client.ImageTagResult{}, nil
}

func (f *fakeEngine) ImageRemove(context.Context, string, client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	return client.ImageRemoveResult{}, errNoSuchImage
}

func (f *fakeEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{}, nil
}

func (f *fakeEngine) ContainerRemove(context.Context, string, client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	return client.ContainerRemoveResult{}, nil
}

func (f *fakeEngine) VolumeRemove(context.Context, string, client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	return client.VolumeRemoveResult{}, errNoSuchImage
}

func fakeBuilder(t *testing.T) (*Builder, *fakeEngine) {
	cfg := Config{PackHome: t.TempDir()}
	cfg.SetDefaults()
	fe := &fakeEngine{}
	b := &Builder{
		cfg: cfg, log: slog.New(slog.NewTextHandler(t.Output(), nil)),
		engine: fe, closeAll: func() error { return nil },
		sched: newScheduler(1), volumeKey: "test",
	}
	t.Cleanup(func() { b.Close() })
	return b, fe
}

func TestBuildRefusesUnsafeSource(t *testing.T) {
	b, fe := fakeBuilder(t)
	d := t.TempDir()
	write(t, d, "go.mod", "module x\n")
	must(t, os.Symlink("/etc/shadow", filepath.Join(d, "config.txt")))
	var log syncBuffer
	_, err := b.Build(t.Context(), Source{Dir: d}, Options{Service: "svc", Image: "apprun/app-1:1", Log: &log})
	if !errors.Is(err, ErrUnsafeSource) || !strings.Contains(err.Error(), `"config.txt"`) {
		t.Fatalf("got %v", err)
	}
	if fe.builds != 0 {
		t.Fatal("an unsafe source reached the engine")
	}
	if !strings.Contains(log.String(), "-----> Build failed: checking source: symlink \"config.txt\"") {
		t.Fatalf("log:\n%s", log.String())
	}
}

func TestBuildNothingDetected(t *testing.T) {
	b, fe := fakeBuilder(t)
	d := t.TempDir()
	write(t, d, "main.c", "int main(void) { return 0; }\n")
	var log syncBuffer
	_, err := b.Build(t.Context(), Source{Dir: d}, Options{Service: "svc", Image: "apprun/app-1:1", Log: &log})
	var be *BuildError
	if !errors.As(err, &be) || !errors.Is(err, ErrNothingDetected) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "apprun/go: go.mod") || !strings.Contains(err.Error(), "or a Dockerfile") {
		t.Fatalf("the error does not say what was looked for:\n%v", err)
	}
	if fe.builds != 0 {
		t.Fatal("built something")
	}
	if !strings.Contains(log.String(), "-----> Build failed: no buildpack detected the source; apprun looked for:\n         apprun/go: go.mod\n") {
		t.Fatalf("the log does not give the whole reason:\n%s", log.String())
	}
}
