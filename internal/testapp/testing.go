package testapp

import (
	"context"
	"os"
	"testing"
	"time"
)

// RequireDocker is the environment variable CI sets so that tests needing
// the Docker engine fail rather than skip: a missing engine must never
// turn CI green.
const RequireDocker = "APPRUN_REQUIRE_DOCKER"

// SkipWithoutDocker skips t under -short, or when no Docker engine answers
// the docker CLI; with APPRUN_REQUIRE_DOCKER=1 the missing engine is a
// failure instead. It is the rule of builder's engine tests.
func SkipWithoutDocker(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping tests on the Docker engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := docker(ctx, "version", "--format", "{{.Server.APIVersion}}"); err != nil {
		if os.Getenv(RequireDocker) == "1" {
			t.Fatalf("the Docker engine is required here (%s=1): %v", RequireDocker, err)
		}
		t.Skipf("skipping: no Docker engine answers: %v", err)
	}
}

// ImageForTest returns the test image's tag for t, building it if needed. It
// skips (or fails) as SkipWithoutDocker does, and fails when the build
// does.
func ImageForTest(t testing.TB) string {
	t.Helper()
	SkipWithoutDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tag, err := Image(ctx)
	if err != nil {
		t.Fatalf("test image: %v", err)
	}
	return tag
}
