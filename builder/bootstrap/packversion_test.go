package bootstrap

import (
	"os"
	"regexp"
	"testing"
)

// TestPackVersionMatchesGoMod keeps the pinned pack version (part of the
// builder's hash) in step with go.mod.
func TestPackVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/buildpacks/pack (v\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod does not require github.com/buildpacks/pack")
	}
	if string(m[1]) != packModuleVersion {
		t.Fatalf("go.mod requires pack %s but packModuleVersion is %s: update the constant", m[1], packModuleVersion)
	}
}
