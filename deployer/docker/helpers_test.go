package docker

import (
	"bytes"
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
	"testing"
	"time"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/internal/testapp"
)

// These tests run against the real Docker engine, which other people use
// at the same time: every resource a test makes has a random suffix and
// the label labelTest, and t.Cleanup removes it. They skip under -short
// or without an engine, unless APPRUN_REQUIRE_DOCKER=1.

// labelTest marks what these tests create, so a leftover says where it
// came from.
const labelTest = "io.apprun.test"

const appPort = 8080

// newEngine returns an Engine on the local engine, closed with the test.
func newEngine(t *testing.T) *Engine {
	t.Helper()
	testapp.SkipWithoutDocker(t)
	e, err := New(Config{}, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := e.Ping(ctx); err != nil {
		if os.Getenv(testapp.RequireDocker) == "1" {
			t.Fatalf("the Docker engine is required here: %v", err)
		}
		t.Skipf("skipping: no Docker engine answers: %v", err)
	}
	return e
}

func suffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func testLabels(t *testing.T) map[string]string {
	return map[string]string{labelTest: "deployer/docker " + t.Name()}
}

// testNetwork ensures a network with a fresh name, removed after the
// test's containers (cleanups run last-in first-out).
func testNetwork(t *testing.T, e *Engine, n deployer.NetworkSpec) string {
	t.Helper()
	n.Name = "apprun-test-net-" + suffix()
	n.Labels = testLabels(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := e.EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.RemoveNetwork(ctx, n.Name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return n.Name
}

// appSpec is an instance of the test image on network, named for the test.
func appSpec(t *testing.T, network, role string) deployer.InstanceSpec {
	t.Helper()
	labels := testLabels(t)
	id := suffix()
	labels[deployer.LabelService] = "test-" + id
	labels[deployer.LabelProcess] = role
	labels[deployer.LabelInstance] = id
	return deployer.InstanceSpec{
		Name:      "apprun-test-" + role + "-" + id,
		Image:     testapp.ImageForTest(t),
		Labels:    labels,
		Port:      appPort,
		CPUs:      0.5,
		MemoryMB:  64,
		Network:   network,
		StopGrace: 5 * time.Second,
	}
}

// start starts s, removes it with the test, and checks it is hardened:
// every container these tests start goes through here.
func start(t *testing.T, e *Engine, s deployer.InstanceSpec) deployer.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	inst, err := e.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Remove(ctx, inst.ID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := e.CheckHardened(ctx, inst.ID); err != nil {
		t.Error(err)
	}
	return inst
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get fetches http://ip:8080/path from the host.
func get(ip, path string) (int, string, error) {
	resp, err := httpClient.Get("http://" + net.JoinHostPort(ip, fmt.Sprint(appPort)) + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// waitReady polls /healthz from the host until the app answers.
func waitReady(t *testing.T, ip string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, err := get(ip, "/healthz")
		if err == nil && code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("app at %s not ready: %d %v", ip, code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitTCP polls a TCP address from the host until it accepts.
func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
