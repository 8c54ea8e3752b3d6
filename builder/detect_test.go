package builder

import (
	"errors"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		own        bool
		kind       string
		dockerfile string
		err        string
	}{
		{"go app", map[string]string{"go.mod": "module x\n", "main.go": "package main"}, true, KindBuildpacks, "", ""},
		{"apprun.yaml asks for a Dockerfile", map[string]string{
			"go.mod": "module x\n", "docker/Dockerfile.prod": "FROM scratch\n",
			"apprun.yaml": "version: 1.0\nbuild:\n  dockerfile: docker/Dockerfile.prod\n",
		}, true, KindDockerfile, "docker/Dockerfile.prod", ""},
		{"apprunner.yaml is read too", map[string]string{
			"Dockerfile": "FROM scratch\n", "apprunner.yaml": "version: 1.0\nbuild:\n  dockerfile: Dockerfile\n",
		}, true, KindDockerfile, "Dockerfile", ""},
		{"a Dockerfile beside a go.mod is not used unasked", map[string]string{"go.mod": "module x\n", "Dockerfile": "FROM scratch\n"}, true, KindBuildpacks, "", ""},
		{"nothing detected falls back to the Dockerfile", map[string]string{"Dockerfile": "FROM scratch\n", "main.c": "int main;"}, true, KindDockerfile, "Dockerfile", ""},
		{"nothing detected, no Dockerfile", map[string]string{"main.c": "int main;"}, true, "", "", "go.mod"},
		{"named Dockerfile missing", map[string]string{"apprun.yaml": "version: 1.0\nbuild:\n  dockerfile: nope/Dockerfile\n"}, true, "", "", "nope/Dockerfile"},
		{"bad apprun.yaml", map[string]string{"go.mod": "module x\n", "apprun.yaml": "version: 1.0\nbuild: [\n"}, true, "", "", "apprun.yaml"},
		{"foreign builder decides itself", map[string]string{"main.c": "int main;"}, false, KindBuildpacks, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			for name, body := range tt.files {
				write(t, d, name, body)
			}
			p, err := choose(d, tt.own)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("choose() = %+v, %v; want an error naming %q", p, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.kind != tt.kind || p.dockerfile != tt.dockerfile {
				t.Fatalf("choose() = %+v, want %s %q", p, tt.kind, tt.dockerfile)
			}
		})
	}
}

func TestNothingDetectedSaysWhatWasLookedFor(t *testing.T) {
	_, err := choose(t.TempDir(), true)
	if !errors.Is(err, ErrNothingDetected) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"apprun/go: go.mod", "package.json", "requirements.txt", "index.html", "Procfile", "Dockerfile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message does not mention %q:\n%s", want, err)
		}
	}
}
