package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// apiServer is the real API over the real store, in-process.
func apiServer(t *testing.T) (url, token string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plain, _, err := st.CreateToken(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{}, st, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, plain
}

func TestCLIExitCodesAndMessages(t *testing.T) {
	url, token := apiServer(t)
	env := map[string]string{"APPRUN_SERVER": url, "APPRUN_TOKEN": token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	bad := map[string]string{"APPRUN_SERVER": url, "APPRUN_TOKEN": "apprun_wrong", "APPRUN_CLI_CONFIG": env["APPRUN_CLI_CONFIG"]}
	down := map[string]string{"APPRUN_SERVER": "http://127.0.0.1:1", "APPRUN_TOKEN": token, "APPRUN_CLI_CONFIG": env["APPRUN_CLI_CONFIG"]}

	if code, out, errs := cli(t, env, "", "services", "create", "web"); code != 0 {
		t.Fatalf("create: exit %d\n%s%s", code, out, errs)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		message string
	}{
		{"duplicate", env, []string{"services", "create", "web"}, exitConflict, "already exists"},
		{"missing", env, []string{"services", "get", "nope"}, exitNotFound, "not found"},
		{"invalid name", env, []string{"services", "create", "Web"}, exitInvalid, "name"},
		{"inverted scaling", env, []string{"services", "create", "api", "--min", "5", "--max", "2"}, exitInvalid, "scaling.maxInstances"},
		{"bad protocol", env, []string{"services", "update", "web", "--health-protocol", "udp"}, exitInvalid, "healthCheck.protocol"},
		{"wrong token", bad, []string{"services", "list"}, exitUnauthorized, ""},
		{"server down", down, []string{"services", "list"}, exitError, "cannot reach the apprun server"},
		{"no name", env, []string{"services", "create"}, exitUsage, "NAME"},
		{"unknown flag", env, []string{"services", "list", "--bogus"}, exitUsage, "bogus"},
		{"bad pair", env, []string{"env", "set", "web", "NOEQUALS"}, exitUsage, "NAME=VALUE"},
		{"nothing to update", env, []string{"services", "update", "web"}, exitUsage, "nothing to change"},
		{"delete unconfirmed", env, []string{"services", "delete", "web"}, exitUsage, "--confirm web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.env, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if !strings.Contains(errs, tc.message) {
				t.Fatalf("stderr %q does not mention %q", errs, tc.message)
			}
		})
	}
	// Nothing above changed the service.
	if code, out, _ := cli(t, env, "", "services", "get", "web", "--json"); code != 0 || !strings.Contains(out, `"protocol": "TCP"`) {
		t.Fatalf("service changed by refused commands:\n%s", out)
	}
}

func TestCLIEnvAndSecrets(t *testing.T) {
	url, token := apiServer(t)
	env := map[string]string{"APPRUN_SERVER": url, "APPRUN_TOKEN": token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	steps := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"services", "create", "web", "--env", "A=1"}, "Created service web"},
		{"", []string{"env", "set", "web", "B=2", "C=x=y"}, "Set env on web: B, C"},
		{"", []string{"env", "unset", "web", "A"}, "Unset env on web: A"},
		{"", []string{"env", "list", "web"}, "B=2\nC=x=y\n"},
		{"hunter2\n", []string{"secrets", "set", "web", "DB_PASSWORD=-"}, "Set secrets on web: DB_PASSWORD"},
		{"", []string{"secrets", "list", "web"}, "DB_PASSWORD"},
		{"", []string{"services", "get", "web"}, "Secrets:"},
		{"", []string{"secrets", "unset", "web", "DB_PASSWORD"}, "Unset secrets"},
		{"", []string{"secrets", "list", "web"}, "web has no secrets"},
		{"", []string{"networks", "create", "db", "--internal"}, "Created network db"},
		{"", []string{"networks", "list"}, "db"},
		{"", []string{"deployments", "web"}, "web has no deployments yet"},
		{"", []string{"services", "delete", "web", "--confirm", "web"}, "Deleted service web"},
		{"", []string{"services", "list"}, "No services yet"},
	}
	for _, s := range steps {
		code, out, errs := cli(t, env, s.stdin, s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("%v: exit %d, want output containing %q\nstdout: %s\nstderr: %s", s.args, code, s.want, out, errs)
		}
		if strings.Contains(out+errs, "hunter2") {
			t.Fatalf("%v printed a secret value", s.args)
		}
	}
}

func TestServerConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "apprun.yaml")
	writeFile(t, file, "apiAddr: 127.0.0.1:9000\nappsDomain: apps.example.com\nshutdownTimeout: 5s\n")
	env := map[string]string{"APPRUN_API_ADDR": "127.0.0.1:9100", "HOME": dir}
	c, err := loadServerConfig(file, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.APIAddr != "127.0.0.1:9100" || c.AppsDomain != "apps.example.com" || c.ShutdownTimeout.String() != "5s" || c.HTTPAddr != "127.0.0.1:8080" {
		t.Fatalf("layered config wrong: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, "apiAddr: nope\nlogLevel: loud\nbogus: 1\n")
	if _, err := loadServerConfig(file, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown config field not refused: %v", err)
	}
	c.APIAddr, c.LogLevel = "nope", "loud"
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "apiAddr") || !strings.Contains(err.Error(), "logLevel") {
		t.Fatalf("want problems on apiAddr and logLevel, got %v", err)
	}
}
