package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// The crash test proves the durability promise of doc.go as far as a
// process can: a write that returned nil is in the database after the
// writer is killed at any moment (SIGKILL: no deferred call, no Close, no
// checkpoint), and the file is never corrupt. It cannot cut the power; that
// half rests on synchronous=FULL, which TestPragmas checks is in force.
const (
	crashDirEnv    = "APPRUN_CRASH_CHILD_DIR"
	crashPrefixEnv = "APPRUN_CRASH_CHILD_PREFIX"
	crashItersEnv  = "APPRUN_CRASH_ITERATIONS"
)

// TestCrashChild is not a test on its own: it is the writer process that
// TestCrashRecovery starts and kills. It writes until killed, printing each
// write's key only after the call returned nil.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashRecovery; runs only when started by it")
	}
	prefix := os.Getenv(crashPrefixEnv)
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: dir}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		// Services (with an encrypted secret, a network link and a domain
		// row) and tokens: several tables and both write paths.
		if i%4 == 3 {
			plain, _, err := s.CreateToken(ctx, "crash")
			if err != nil {
				fmt.Fprintln(os.Stderr, "token:", err)
				os.Exit(3)
			}
			fmt.Printf("tok %s\n", plain)
			continue
		}
		svc := spec.NewService(fmt.Sprintf("%s-%d", prefix, i))
		svc.Domains = []string{svc.Name + ".example.com"}
		if _, err := s.CreateService(ctx, svc, map[string]string{"V": svc.Name}); err != nil {
			fmt.Fprintln(os.Stderr, "service:", err)
			os.Exit(3)
		}
		fmt.Printf("svc %s\n", svc.Name)
	}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode: it starts and SIGKILLs writer processes (set " + crashItersEnv + " to choose how many)")
	}
	iterations := 30
	if v := os.Getenv(crashItersEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", crashItersEnv, v)
		}
		iterations = n
	}
	dir := t.TempDir() // one database through every crash: damage would accumulate
	start := time.Now()
	var all []string
	var early int
	for it := range iterations {
		acks, ready := crashOnce(t, dir, fmt.Sprintf("c%d", it))
		if !ready {
			early++
		}
		checkAfterCrash(t, dir, acks)
		all = append(all, acks...)
		if t.Failed() {
			t.Fatalf("iteration %d failed", it)
		}
	}
	checkAfterCrash(t, dir, all)
	t.Logf("%d crashes (%d before the store was open), %d acknowledged writes, all present after recovery, integrity ok; %v",
		iterations, early, len(all), time.Since(start).Round(time.Millisecond))
}

// crashOnce starts a writer, SIGKILLs it at a random moment, and returns the
// writes it acknowledged. Most kills land while it writes; one in ten lands
// early, while the test binary starts or the store opens (and, the first
// time, migrates and creates the key).
func crashOnce(t *testing.T, dir, prefix string) (acks []string, ready bool) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashPrefixEnv+"="+prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the writer: %v", err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a line cut short by the kill was never acknowledged
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()

	var kill <-chan time.Time
	if rand.IntN(10) == 0 {
		kill = time.After(time.Duration(rand.Int64N(int64(40 * time.Millisecond))))
	}
	deadline := time.After(time.Minute)
	killed := false
	for !killed {
		select {
		case line, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("the writer exited before it was killed: %s", stderr.String())
			}
			if line == "ready" {
				ready = true
				if kill == nil {
					kill = time.After(time.Duration(rand.Int64N(int64(150 * time.Millisecond))))
				}
			} else {
				acks = append(acks, line)
			}
		case <-kill:
			killed = true
		case <-deadline:
			killed = true
			t.Errorf("the writer did not get ready within a minute: %s", stderr.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on unix
		t.Fatalf("killing the writer: %v", err)
	}
	// Lines written before the kill are still in the pipe.
	for line := range lines {
		if line == "ready" {
			ready = true
		} else {
			acks = append(acks, line)
		}
	}
	cmd.Wait()
	return acks, ready
}

// checkAfterCrash reopens the store (recovering the WAL), checks the file's
// integrity, and checks every acknowledged write is there and readable.
func checkAfterCrash(t *testing.T, dir string, acks []string) {
	t.Helper()
	ctx := t.Context()
	s, err := Open(ctx, Config{DataDir: dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("reopening after the crash: %v", err)
	}
	defer s.Close()
	var integrity string
	if err := s.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	rows, err := s.r.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Errorf("foreign_key_check reports violations")
	}
	rows.Close()
	for _, ack := range acks {
		kind, key, _ := strings.Cut(ack, " ")
		switch kind {
		case "svc":
			secrets, err := s.ServiceSecrets(ctx, key)
			if err != nil || secrets["V"] != key {
				t.Errorf("acknowledged service %s: secrets %v, %v", key, secrets, err)
			}
			if svc, err := s.GetService(ctx, key); err != nil || len(svc.Domains) != 1 {
				t.Errorf("acknowledged service %s: %+v, %v", key, svc, err)
			}
		case "tok":
			if _, err := s.VerifyToken(ctx, key); err != nil {
				t.Errorf("acknowledged token is lost: %v", err)
			}
		default:
			t.Errorf("unexpected line from the writer: %q", ack)
		}
	}
}
