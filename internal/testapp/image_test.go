package testapp

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestImage(t *testing.T) {
	tag := ImageForTest(t)
	if !strings.HasPrefix(tag, Repository+":") {
		t.Errorf("tag %q is not in %s", tag, Repository)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	got, err := docker(ctx, "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Labels}}", tag)
	if err != nil {
		t.Fatal(err)
	}
	if want := `1000:1000 ["/testapp"] {"io.apprun.test":"testapp"}`; got != want {
		t.Errorf("image config = %s, want %s", got, want)
	}
	// A second call finds the image and returns the same tag at once.
	start := time.Now()
	again, err := Image(ctx)
	if err != nil || again != tag {
		t.Errorf("Image again = %q, %v; want %q", again, err, tag)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Image again took %s", d)
	}
}

func TestSourcesHashIgnoresTests(t *testing.T) {
	files, hash, err := sources()
	if err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if strings.HasSuffix(name, "_test.go") {
			t.Errorf("test file %s is part of the image", name)
		}
	}
	if _, ok := files["main.go"]; !ok || len(hash) != 16 {
		t.Errorf("files %v, hash %q", len(files), hash)
	}
}
