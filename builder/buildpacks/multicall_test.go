package buildpacks

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMultiCallProgram runs the real program as the lifecycle would:
// written into buildpack directories by WriteBuildpack, started as
// bin/detect and bin/build with the CNB variables, and the static server
// it copies into a launch layer.
func TestMultiCallProgram(t *testing.T) {
	t.Parallel()
	binary := multiCallBinary(t)
	bps := t.TempDir()
	for _, id := range IDs() {
		if err := WriteBuildpack(filepath.Join(bps, strings.ReplaceAll(id, "/", "_")), id, Version, binary); err != nil {
			t.Fatal(err)
		}
	}
	bin := func(id, exe string) string {
		return filepath.Join(bps, strings.ReplaceAll(id, "/", "_"), "bin", exe)
	}
	run := func(f *fakeCNB, id, exe string, withDir bool) (int, string) {
		env := f.env(id)
		cmd := exec.Command(bin(id, exe))
		cmd.Dir = f.app
		cmd.Env = append(env.Environ,
			"CNB_PLATFORM_DIR="+f.platform,
			"CNB_BUILD_PLAN_PATH="+filepath.Join(t.TempDir(), "plan.toml"),
			"CNB_LAYERS_DIR="+env.LayersDir,
			"CNB_BP_PLAN_PATH="+filepath.Join(t.TempDir(), "bp-plan.toml"),
			"CNB_TARGET_OS=linux",
		)
		if withDir {
			cmd.Env = append(cmd.Env, "CNB_BUILDPACK_DIR="+filepath.Dir(filepath.Dir(bin(id, exe))))
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}

	goApp := newFakeCNB(t, exampleDir("go"))
	for _, tc := range []struct {
		id      string
		withDir bool
		want    int
	}{
		{IDGo, true, ExitPass},
		{IDGo, false, ExitPass}, // the id found from the program's own path
		{IDNode, true, ExitFail},
		{IDProcfile, true, ExitFail},
	} {
		if code, out := run(goApp, tc.id, "detect", tc.withDir); code != tc.want {
			t.Errorf("%s bin/detect on the go example = %d, want %d\n%s", tc.id, code, tc.want, out)
		}
	}
	broken := newFakeApp(t, map[string]string{"Procfile": "no colon here\n"})
	if code, out := run(broken, IDProcfile, "detect", true); code != ExitError || !strings.Contains(out, "line 1") {
		t.Errorf("bin/detect on a broken Procfile = %d, want %d with the line\n%s", code, ExitError, out)
	}

	site := newFakeCNB(t, exampleDir("static"))
	site.group = []string{IDStatic}
	if code, out := run(site, IDStatic, "build", true); code != ExitPass {
		t.Fatalf("bin/build = %d\n%s", code, out)
	}
	web := site.processes()["web"]
	if len(web.Command) == 0 || filepath.Base(web.Command[0]) != "static-server" {
		t.Fatalf("web = %q", web.Command)
	}
	port := freePort(t)
	srv := exec.Command(web.Command[0], web.Command[1:]...)
	srv.Dir = site.app
	srv.Env = []string{"PORT=" + strconv.Itoa(port)}
	logs := &syncBuffer{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var resp *http.Response
	var err error
	for i := 0; i < 200; i++ {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		srv.Process.Kill()
		t.Fatalf("GET %s: %v\n%s", url, err, logs)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET / = %d", resp.StatusCode)
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Errorf("the static server exited with %v after SIGTERM\n%s", err, logs)
	}
	if _, err := os.Stat(filepath.Join(site.layersDir(IDStatic), "static-server.toml")); err != nil {
		t.Error(err)
	}
}
