package deployer_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// The Docker daemon restarts (an upgrade, a crash): every instance stops
// with it, and the reconciler brings the service back on its own. It
// restarts the machine's real daemon, so it runs only when asked
// (APPRUN_TEST_RESTART_ENGINE=1) and never in CI, where other packages'
// tests share the engine.
func TestConvergesAfterEngineRestart(t *testing.T) {
	if os.Getenv("APPRUN_TEST_RESTART_ENGINE") != "1" {
		t.Skip("restarts the Docker daemon: set APPRUN_TEST_RESTART_ENGINE=1 to run it")
	}
	h := newHarness(t, nil)
	svc := h.service("web", func(s *spec.Service) { s.Formation = map[string]int{"web": 2} })
	h.mustDeploy(svc, h.revision(svc, "v1", nil))
	client := &http.Client{Timeout: 2 * time.Second}

	restartDockerd(t)
	restarted := time.Now()
	var first time.Duration
	eventually(t, 120*time.Second, "two ready instances answering again", func() bool {
		code, _, err := h.get(client, "web", "/")
		if err == nil && code == 200 && first == 0 {
			first = time.Since(restarted)
		}
		st, _ := h.d.Instances(context.Background(), "web")
		ready := 0
		for _, s := range st {
			if s.Ready && s.State == "running" {
				ready++
			}
		}
		return err == nil && code == 200 && ready == 2
	})
	t.Logf("after the daemon answered again: first 200 in %s, both instances ready in %s", first.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	for _, i := range h.instances(svc) {
		if !i.Running() {
			t.Errorf("a stopped container was left: %s (%s)", i.Name, i.State)
		}
	}
}

// restartDockerd stops the daemon with SIGTERM (as a service manager
// does) and starts it again with the same command line, then waits until
// it answers.
func restartDockerd(t *testing.T) {
	t.Helper()
	out, err := exec.Command("pidof", "dockerd").Output()
	if err != nil {
		t.Fatalf("pidof dockerd: %v", err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(out))[0])
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); syscall.Kill(pid, 0) == nil; {
		if time.Now().After(deadline) {
			t.Fatal("dockerd did not stop within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	logf, err := os.OpenFile(os.TempDir()+"/dockerd-restart.log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dockerd again: %v", err)
	}
	_ = cmd.Process.Release()
	for deadline := time.Now().Add(60 * time.Second); ; {
		var b bytes.Buffer
		c := exec.Command("docker", "version", "--format", "{{.Server.Version}}")
		c.Stdout = &b
		if c.Run() == nil && b.Len() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("dockerd did not answer within 60 s of its restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
