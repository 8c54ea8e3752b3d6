package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeEngine keeps images in a map, as the engine would by name.
type fakeEngine struct {
	images   map[string]imageInfo // by name
	dangling []string             // IDs of images that lost their name
	removed  []string
	next     int
}

func newFakeEngine() *fakeEngine { return &fakeEngine{images: map[string]imageInfo{}} }

func (f *fakeEngine) apiVersion(context.Context) (string, error) { return "1.41", nil }

// image finds ref as a name, or as an ID with the names that point at it,
// as the engine does.
func (f *fakeEngine) image(_ context.Context, ref string) (imageInfo, bool, error) {
	if info, ok := f.images[ref]; ok {
		info.Tags = []string{ref}
		return info, true, nil
	}
	found := false
	info := imageInfo{ID: ref}
	for name, img := range f.images {
		if img.ID == ref {
			found = true
			info.Tags = append(info.Tags, name)
		}
	}
	for _, id := range f.dangling {
		found = found || id == ref
	}
	return info, found, nil
}

func (f *fakeEngine) importImage(context.Context, string, io.Reader, []string) error {
	return errors.New("not used")
}

func (f *fakeEngine) buildImage(context.Context, string, io.Reader, map[string]string) error {
	return errors.New("not used")
}

func (f *fakeEngine) removeImage(_ context.Context, id string) error {
	f.removed = append(f.removed, id)
	return nil
}

// put makes an image as a step would.
func (f *fakeEngine) put(ref, hash string) {
	if old, ok := f.images[ref]; ok {
		f.dangling = append(f.dangling, old.ID)
	}
	f.next++
	f.images[ref] = imageInfo{ID: fmt.Sprintf("sha256:%d", f.next), Labels: map[string]string{HashLabel: hash}}
}

// fakeMaker stands for the real steps: it records the order and makes the
// output in the fake engine or the data dir.
type fakeMaker struct {
	eng   *fakeEngine
	made  []stepID
	fail  stepID
	check func(step) // called before making, to look at what exists
}

func (m *fakeMaker) do(_ context.Context, s step) error {
	if m.check != nil {
		m.check(s)
	}
	m.made = append(m.made, s.id)
	if s.id == m.fail {
		return &commandError{name: "mmdebstrap", code: 1, tail: "E: bookworm: no such suite"}
	}
	switch s.kind {
	case kindImage:
		m.eng.put(s.name, s.hash)
	case kindFile:
		return os.WriteFile(s.name, []byte("tgz"), 0o644)
	}
	return nil
}

func testRunner(t *testing.T, eng engine, progress io.Writer) *runner {
	t.Helper()
	in := testInputs()
	in.WorkDir = t.TempDir()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &runner{cfg: Config{Progress: progress, Log: log}, log: log, eng: eng, in: in}
}

func TestBootstrapBuildsThenReuses(t *testing.T) {
	ctx := context.Background()
	eng := newFakeEngine()
	var progress bytes.Buffer
	r := testRunner(t, eng, &progress)
	m := &fakeMaker{eng: eng}
	// Every dependency must exist when a step that uses it runs.
	m.check = func(s step) {
		for _, d := range s.deps {
			dep := r.steps[d]
			switch dep.kind {
			case kindImage:
				if eng.images[dep.name].Labels[HashLabel] != dep.hash {
					t.Errorf("%s made before its dependency %s", s.id, d)
				}
			case kindFile:
				if _, err := os.Stat(dep.name); err != nil {
					t.Errorf("%s made before its dependency %s", s.id, d)
				}
			case kindScratch:
				if !slices.Contains(m.made, d) {
					t.Errorf("%s made before its dependency %s", s.id, d)
				}
			}
		}
	}

	res, err := r.bootstrap(ctx, time.Now(), m.do)
	if err != nil {
		t.Fatal(err)
	}
	want := []stepID{stepRun, stepBuild, stepLifecycle, stepLifecycleImage, stepBuildpacks, stepBuilder}
	if !slices.Equal(m.made, want) {
		t.Errorf("made %v, want %v", m.made, want)
	}
	if len(res.Built()) != 6 || res.BuilderImage != DefaultBuilderImage || res.Lifecycle != r.stepName(stepLifecycle) {
		t.Errorf("result %+v", res)
	}
	for _, line := range []string{
		"-----> run image apprun/run:bookworm (built, ",
		"-----> lifecycle 0.21.0 (built, ",
		"-----> buildpacks 0.1.0 (built, ",
		"-----> bootstrap done in ",
	} {
		if !strings.Contains(progress.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, progress.String())
		}
	}

	// A second run finds everything up to date and makes nothing.
	progress.Reset()
	m.made = nil
	r2 := testRunner(t, eng, &progress)
	r2.in.WorkDir = r.in.WorkDir
	if res, err = r2.bootstrap(ctx, time.Now(), m.do); err != nil {
		t.Fatal(err)
	}
	if len(m.made) != 0 || len(res.Built()) != 0 {
		t.Errorf("second run made %v", m.made)
	}
	for _, line := range []string{
		"-----> run image apprun/run:bookworm (up to date)",
		"-----> lifecycle 0.21.0 (up to date)",
		"-----> buildpacks 0.1.0 (not needed)",
		"-----> builder image apprun/builder:bookworm (up to date)",
	} {
		if !strings.Contains(progress.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, progress.String())
		}
	}
	st, err := r2.check(ctx)
	if err != nil || !st.Ready() {
		t.Errorf("check after a run: ready %v, %v", st.Ready(), err)
	}
}

func TestBootstrapRemakesOnlyDependents(t *testing.T) {
	ctx := context.Background()
	eng := newFakeEngine()
	r := testRunner(t, eng, io.Discard)
	m := &fakeMaker{eng: eng}
	if _, err := r.bootstrap(ctx, time.Now(), m.do); err != nil {
		t.Fatal(err)
	}
	oldBuilder := eng.images[DefaultBuilderImage].ID
	oldRun := eng.images[DefaultRunImage].ID

	// The buildpack source changed: only the buildpacks and the builder.
	m.made = nil
	r2 := testRunner(t, eng, io.Discard)
	r2.in.WorkDir = r.in.WorkDir
	r2.in.SourceDigest = "sha256:edited"
	if st, _ := r2.check(ctx); st.Ready() {
		t.Error("check says ready after the source changed")
	}
	if _, err := r2.bootstrap(ctx, time.Now(), m.do); err != nil {
		t.Fatal(err)
	}
	if want := []stepID{stepBuildpacks, stepBuilder}; !slices.Equal(m.made, want) {
		t.Errorf("made %v, want %v", m.made, want)
	}
	if !slices.Equal(eng.removed, []string{oldBuilder}) {
		t.Errorf("removed %v, want the old builder %s", eng.removed, oldBuilder)
	}

	// An old image that another name still points at is kept: removing
	// it by ID would take that name's image away.
	eng.images["apprun-test/builder:other"] = eng.images[DefaultBuilderImage]
	shared := eng.images[DefaultBuilderImage].ID
	eng.removed = nil
	r2b := testRunner(t, eng, io.Discard)
	r2b.in.WorkDir = r.in.WorkDir
	r2b.in.SourceDigest = "sha256:edited again"
	if _, err := r2b.bootstrap(ctx, time.Now(), m.do); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(eng.removed, shared) {
		t.Errorf("removed %s, which apprun-test/builder:other still names", shared)
	}
	delete(eng.images, "apprun-test/builder:other")

	// The Go version changed: the lifecycle tarball is remade under a new
	// name and the old one pruned; the run image stays.
	m.made = nil
	r3 := testRunner(t, eng, io.Discard)
	r3.in.WorkDir = r.in.WorkDir
	r3.in.SourceDigest = "sha256:edited again"
	r3.in.GoVersion = "go1.26.9"
	if _, err := r3.bootstrap(ctx, time.Now(), m.do); err != nil {
		t.Fatal(err)
	}
	if want := []stepID{stepBuild, stepLifecycle, stepLifecycleImage, stepBuildpacks, stepBuilder}; !slices.Equal(m.made, want) {
		t.Errorf("made %v, want %v", m.made, want)
	}
	if eng.images[DefaultRunImage].ID != oldRun {
		t.Error("the run image was remade")
	}
	files, _ := filepath.Glob(filepath.Join(r.in.WorkDir, "lifecycle-*.tgz"))
	if len(files) != 1 || files[0] != r3.stepName(stepLifecycle) {
		t.Errorf("lifecycle tarballs %v, want only %s", files, r3.stepName(stepLifecycle))
	}
}

func TestBootstrapFailureNamesTheStep(t *testing.T) {
	eng := newFakeEngine()
	var progress bytes.Buffer
	r := testRunner(t, eng, &progress)
	m := &fakeMaker{eng: eng, fail: stepBuild}
	_, err := r.bootstrap(context.Background(), time.Now(), m.do)
	if err == nil {
		t.Fatal("no error")
	}
	if want := "step build image: mmdebstrap exited 1: E: bookworm: no such suite"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !slices.Equal(m.made, []stepID{stepRun, stepBuild}) {
		t.Errorf("went on after the failure: %v", m.made)
	}
	if !strings.Contains(progress.String(), "-----> build image apprun/build:bookworm (failed, ") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestBootstrapStopsWhenCancelled(t *testing.T) {
	eng := newFakeEngine()
	r := testRunner(t, eng, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	m := &fakeMaker{eng: eng, check: func(s step) {
		if s.id == stepBuild {
			cancel()
		}
	}}
	_, err := r.bootstrap(ctx, time.Now(), m.do)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "step lifecycle: ") {
		t.Errorf("error %v, want the lifecycle step cancelled", err)
	}
}
