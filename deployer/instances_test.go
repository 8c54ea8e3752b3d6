package deployer

import (
	"slices"
	"testing"

	"github.com/apprun/apprun/spec"
)

func TestEnvKeepsPlatformSecretsFromTheApp(t *testing.T) {
	rev := spec.Revision{Number: 3, Service: spec.Service{Name: "web", Env: map[string]string{"A": "1", "PORT": "1"}}}
	got := env(rev, map[string]string{"DB_PASSWORD": "s", "GIT_TOKEN": "t"})
	want := []string{"A=1", "APPRUN_REVISION=3", "APPRUN_SERVICE=web", "DB_PASSWORD=s", "PORT=8080"}
	if !slices.Equal(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
}
