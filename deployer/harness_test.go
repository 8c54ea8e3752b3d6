package deployer_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/deployer/docker"
	"github.com/apprun/apprun/internal/testapp"
	"github.com/apprun/apprun/router"
	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
)

// harness is a deployer on the real engine with a real store and a real
// router on loopback, deploying the test app's image.
type harness struct {
	t      *testing.T
	st     *store.SQLite
	eng    *docker.Engine
	rt     *router.Router
	d      *deployer.Deployer
	cfg    deployer.Config
	image  string
	url    string // the router's base URL
	domain string
	logs   *syncBuffer
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newHarness(t *testing.T, mod func(*deployer.Config)) *harness {
	t.Helper()
	image := testapp.ImageForTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, image: image, domain: "apps.test", logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(h.logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	h.st, err = store.Open(ctx, store.Config{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	h.eng, err = docker.New(docker.Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	var d atomic.Pointer[deployer.Deployer]
	h.rt, err = router.New(router.Config{AppsDomain: h.domain, Poke: func(s, r string) {
		if dd := d.Load(); dd != nil {
			dd.Poke(s, r)
		}
	}}, log.With("component", "router"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.rt.Serve(ln)
	h.url = "http://" + ln.Addr().String()
	suffix := randomSuffix()
	h.cfg = deployer.Config{
		Store: h.st, Runtime: h.eng, Router: h.rt,
		Installation:      "test-" + suffix,
		Network:           "apprun-test-" + suffix,
		StartTimeout:      20 * time.Second,
		DrainTimeout:      20 * time.Second,
		StopGrace:         5 * time.Second,
		ReconcileInterval: 500 * time.Millisecond,
		LogDir:            t.TempDir(),
	}
	if mod != nil {
		mod(&h.cfg)
	}
	h.d, err = deployer.New(h.cfg, log.With("component", "deployer"))
	if err != nil {
		t.Fatal(err)
	}
	d.Store(h.d)
	done := make(chan struct{})
	go func() { defer close(done); h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		_ = h.rt.Shutdown(sctx)
		all, _ := h.eng.List(sctx)
		for _, i := range all {
			if i.Labels[deployer.LabelInstallation] == h.cfg.Installation {
				_ = h.eng.Remove(sctx, i.ID)
			}
		}
		_ = h.eng.RemoveNetwork(sctx, h.cfg.Network)
		// The private networks the test's services joined.
		if nets, err := h.st.ListNetworks(sctx); err == nil {
			for _, n := range nets {
				_ = h.eng.RemoveNetwork(sctx, deployer.NetworkName(n))
			}
		}
		h.st.Close()
	})
	return h
}

// service creates a service answering on a port the test app listens on.
func (h *harness) service(name string, mod func(*spec.Service)) spec.Service {
	h.t.Helper()
	svc := spec.NewService(name)
	if mod != nil {
		mod(&svc)
	}
	svc, err := h.st.CreateService(context.Background(), svc, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

// revision records a revision of the test app whose "/" names version.
func (h *harness) revision(svc spec.Service, version string, env map[string]string) spec.Revision {
	h.t.Helper()
	snap := svc
	snap.Env = map[string]string{"TESTAPP_VERSION": version}
	for k, v := range env {
		snap.Env[k] = v
	}
	rev, err := h.st.CreateRevision(context.Background(), spec.Revision{ServiceID: svc.ID, Image: h.image, Kind: "dockerfile", Service: snap})
	if err != nil {
		h.t.Fatal(err)
	}
	return rev
}

// deploy rolls a revision out and returns the deployment and the log.
func (h *harness) deploy(svc spec.Service, rev spec.Revision) (spec.Deployment, string, error) {
	var log syncBuffer
	dep, err := h.d.Deploy(context.Background(), deployer.DeployRequest{Service: svc.Name, RevisionID: rev.ID}, &log)
	return dep, log.String(), err
}

func (h *harness) mustDeploy(svc spec.Service, rev spec.Revision) spec.Deployment {
	h.t.Helper()
	dep, log, err := h.deploy(svc, rev)
	if err != nil {
		h.t.Fatalf("deploy: %v\n%s", err, log)
	}
	if dep.State != spec.StateSucceeded {
		h.t.Fatalf("deployment %s, want succeeded", dep.State)
	}
	return dep
}

// get sends one request through the router to the service.
func (h *harness) get(c *http.Client, svc, path string) (int, string, error) {
	req, err := http.NewRequest("GET", h.url+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = svc + "." + h.domain
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// instances are the harness installation's containers of a service.
func (h *harness) instances(svc spec.Service) []deployer.Instance {
	h.t.Helper()
	all, err := h.eng.List(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	var out []deployer.Instance
	for _, i := range all {
		if i.Labels[deployer.LabelInstallation] == h.cfg.Installation && i.Labels[deployer.LabelService] == svc.ID {
			out = append(out, i)
		}
	}
	return out
}

// checkHardened asserts the hardening of every container the harness has.
func (h *harness) checkHardened() {
	h.t.Helper()
	all, err := h.eng.List(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, i := range all {
		if i.Labels[deployer.LabelInstallation] != h.cfg.Installation {
			continue
		}
		n++
		if err := h.eng.CheckHardened(context.Background(), i.ID); err != nil {
			h.t.Errorf("container %s is not hardened: %v", i.Name, err)
		}
	}
	if n == 0 {
		h.t.Error("no container to check")
	}
}

// eventually retries cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if os.Getenv("APPRUN_TEST_VERBOSE") != "" {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// wsDial opens a websocket to the service's /ws through the router and
// returns a function that sends a text message and reads its echo.
func (h *harness) wsDial(svc string) (echo func(string) error, closeFn func(), err error) {
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s.%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", svc, h.domain)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, nil, fmt.Errorf("websocket handshake answered %d", resp.StatusCode)
	}
	echo = func(msg string) error {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		// A client frame: FIN + text, masked, payload < 126 bytes.
		mask := []byte{1, 2, 3, 4}
		frame := []byte{0x81, 0x80 | byte(len(msg))}
		frame = append(frame, mask...)
		for i := range len(msg) {
			frame = append(frame, msg[i]^mask[i%4])
		}
		if _, err := c.Write(frame); err != nil {
			return err
		}
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return err
		}
		payload := make([]byte, hdr[1]&0x7f)
		if _, err := io.ReadFull(br, payload); err != nil {
			return err
		}
		if string(payload) != msg {
			return fmt.Errorf("echo %q, want %q", payload, msg)
		}
		return nil
	}
	return echo, func() { c.Close() }, nil
}
