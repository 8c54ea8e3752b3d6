package buildpacks

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// The launch half of the fake lifecycle: reading launch.toml as the
// exporter merges it, and starting a process as the launcher would.

// launchProcess is a process read back from launch.toml.
type launchProcess struct {
	Command []string
	Default bool
	From    string
}

// processes merges the launch.toml of every buildpack of the group, later
// buildpacks replacing earlier ones' process types, as the exporter does.
func (f *fakeCNB) processes() map[string]launchProcess {
	f.t.Helper()
	procs := map[string]launchProcess{}
	for _, id := range f.group {
		data, err := os.ReadFile(filepath.Join(f.layersDir(id), "launch.toml"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			f.t.Fatal(err)
		}
		for typ, p := range parseLaunchTOML(f.t, string(data)) {
			p.From = id
			procs[typ] = p
		}
	}
	return procs
}

// parseLaunchTOML reads the processes of a launch.toml as launchTOML
// writes it (its strings are JSON strings too).
func parseLaunchTOML(t *testing.T, doc string) map[string]launchProcess {
	t.Helper()
	procs := map[string]launchProcess{}
	for _, block := range strings.Split(doc, "[[processes]]")[1:] {
		block, _, _ = strings.Cut(block, "[[labels]]")
		var typ string
		var p launchProcess
		for _, line := range strings.Split(block, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), " = ")
			if !ok {
				continue
			}
			var err error
			switch k {
			case "type":
				err = json.Unmarshal([]byte(v), &typ)
			case "command":
				err = json.Unmarshal([]byte(v), &p.Command)
			case "default":
				p.Default = v == "true"
			}
			if err != nil {
				t.Fatalf("launch.toml: %s: %v\n%s", line, err, doc)
			}
		}
		procs[typ] = p
	}
	return procs
}

// launchEnv is the environment the launcher would give a process: the
// host's, then each launch layer's bin/ on PATH and its env/ and
// env.launch/ files, then extra.
func (f *fakeCNB) launchEnv(extra ...string) []string {
	f.t.Helper()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	delete(env, "PORT")
	for _, id := range f.group {
		tomls, _ := filepath.Glob(filepath.Join(f.layersDir(id), "*.toml"))
		for _, p := range tomls {
			if filepath.Base(p) == "launch.toml" {
				continue
			}
			data, _ := os.ReadFile(p)
			if !layerTypesOf(string(data)).Launch {
				continue
			}
			layer := strings.TrimSuffix(p, ".toml")
			if fi, err := os.Stat(filepath.Join(layer, "bin")); err == nil && fi.IsDir() {
				env["PATH"] = filepath.Join(layer, "bin") + ":" + env["PATH"]
			}
			for _, d := range []string{"env", "env.launch"} {
				applyEnvDir(f.t, env, filepath.Join(layer, d))
			}
		}
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func applyEnvDir(t *testing.T, env map[string]string, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name, action, _ := strings.Cut(e.Name(), ".")
		if action == "delim" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		delim, _ := os.ReadFile(filepath.Join(dir, name+".delim"))
		v := string(data)
		old, set := env[name]
		switch action {
		case "default":
			if !set {
				env[name] = v
			}
		case "override", "":
			env[name] = v
		case "prepend":
			if set && old != "" {
				v += string(delim) + old
			}
			env[name] = v
		case "append":
			if set && old != "" {
				v = old + string(delim) + v
			}
			env[name] = v
		}
	}
}

// started is a running process of the app.
type started struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	port int
	done chan error
}

// start launches process type typ with PORT set to a free port, and
// stops it (SIGTERM, then kill) when the test ends.
func (f *fakeCNB) start(typ string, extraEnv ...string) *started {
	f.t.Helper()
	p, ok := f.processes()[typ]
	if !ok {
		f.t.Fatalf("no %s process in launch.toml; have %v", typ, f.processes())
	}
	port := freePort(f.t)
	env := f.launchEnv(append([]string{"PORT=" + strconv.Itoa(port)}, extraEnv...)...)
	argv0 := p.Command[0]
	if !strings.Contains(argv0, "/") {
		argv0 = lookPathIn(f.t, argv0, env)
	}
	s := &started{out: &syncBuffer{}, port: port, done: make(chan error, 1)}
	s.cmd = &exec.Cmd{Path: argv0, Args: p.Command, Dir: f.app, Env: env, Stdout: s.out, Stderr: s.out}
	if err := s.cmd.Start(); err != nil {
		f.t.Fatalf("starting %v: %v", p.Command, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	f.t.Cleanup(func() {
		if err := s.stop(10 * time.Second); err != nil {
			f.t.Logf("stopping %s: %v", typ, err)
		}
	})
	return s
}

// stop sends SIGTERM and waits for the process to exit, killing it after
// grace; it returns how the process exited.
func (s *started) stop(grace time.Duration) error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("did not stop within %v", grace)
	}
}

func lookPathIn(t *testing.T, name string, env []string) string {
	t.Helper()
	path, _ := lookupEnv(env, "PATH")
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s is not on the launch PATH %s", name, path)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get polls GET http://127.0.0.1:port/path until the process answers, and
// returns the status and body.
func (s *started) get(t *testing.T, path string) (int, string) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(body)
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("the process exited (%v) before answering:\n%s", err, s.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v\n%s", url, err, s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readLayerFile returns the content of a file in a layer of buildpack id.
func (f *fakeCNB) readLayerFile(id, rel string) string {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.layersDir(id), rel))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(data)
}

// exampleDir is the path of examples/<name>.
func exampleDir(name string) string {
	return filepath.Join("..", "..", "examples", name)
}

func sleepMillis(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }

// fakeFS is an in-memory app for the parts of a build that only read it.
func fakeFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, content := range files {
		m[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return m
}
