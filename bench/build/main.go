// Command build benchmarks apprun's builder against the tool a user would
// otherwise run: the pack CLI with the same builder (for buildpack apps) and
// `docker build` (for the Dockerfile app), side by side in one run. For each
// example it times a first (cold) build, a rebuild with no change, and a
// rebuild with one file changed, and prints apprun/alternative ratios.
//
//	go build -o ~/go/bin/pack github.com/buildpacks/pack   # the CLI at the version go.mod pins (v0.40.2)
//	go run ./bench/build                       # every example
//	go run ./bench/build -examples go,node     # some
//
// It needs a Docker engine with the builder images (`apprun builder
// bootstrap`). It removes the images and cache volumes it makes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/apprun/apprun/builder"
)

// changed is the file each example gets one line appended to for the
// "one file changed" rebuild: a source file its build really compiles or
// copies.
var changed = map[string]string{
	"go":         "main.go",
	"node":       "server.js",
	"python":     "app.py",
	"static":     "index.html",
	"procfile":   "cmd/web/main.go",
	"dockerfile": "main.go",
}

// comment is a line that is a comment in each changed file's language.
func comment(file string) string {
	switch filepath.Ext(file) {
	case ".py":
		return "\n# bench change\n"
	case ".html":
		return "\n<!-- bench change -->\n"
	}
	return "\n// bench change\n"
}

type row struct {
	example, step string
	apprun, alt   time.Duration
	altName       string
	runs          int
	err           error
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	examples := flag.String("examples", "go,node,python,static,procfile,dockerfile", "comma-separated examples to build")
	root := flag.String("root", "examples", "the examples directory")
	pack := flag.String("pack", "pack", "the pack CLI")
	builderImage := flag.String("builder", "apprun/builder:bookworm", "the CNB builder both tools use")
	repeat := flag.Int("runs", 3, "runs of each rebuild step (the median is reported)")
	flag.Parse()
	// Ctrl-C stops the builds and still removes what the run made.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runStart := time.Now()

	work, err := os.MkdirTemp("", "apprun-bench-build-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)
	packHomeApprun := filepath.Join(work, "pack-home-apprun")
	packHomeCLI := filepath.Join(work, "pack-home-cli")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := builder.New(builder.Config{BuilderImage: *builderImage, PackHome: packHomeApprun}, log)
	if err != nil {
		fail(err)
	}
	defer b.Close()
	if err := b.Check(ctx); err != nil {
		fail(fmt.Errorf("%w (run `apprun builder bootstrap` first)", err))
	}
	if _, err := exec.LookPath(*pack); err != nil {
		fail(fmt.Errorf("the pack CLI is needed: go build -o ~/go/bin/pack github.com/buildpacks/pack (%w)", err))
	}

	var rows []row
	var images []string
	for _, ex := range strings.Split(*examples, ",") {
		if ctx.Err() != nil {
			break
		}
		src := filepath.Join(*root, ex)
		// Two copies, so each tool sees the same change at the same step.
		dirA, dirB := filepath.Join(work, ex+"-apprun"), filepath.Join(work, ex+"-alt")
		for _, d := range []string{dirA, dirB} {
			if out, err := exec.Command("cp", "-r", "--", src, d).CombinedOutput(); err != nil {
				fail(fmt.Errorf("copying %s: %v: %s", src, err, out))
			}
		}
		imgA, imgB := "apprun-bench/"+ex+":apprun", "apprun-bench/"+ex+":alt"
		images = append(images, imgA, imgB)
		apprunBuild := func() (time.Duration, error) {
			start := time.Now()
			_, err := b.Build(ctx, builder.Source{Dir: dirA}, builder.Options{Service: "bench-" + ex, Image: imgA, PreviousImage: imgA, Log: io.Discard})
			return time.Since(start), err
		}
		altName := "pack"
		altBuild := func() (time.Duration, error) {
			cmd := exec.CommandContext(ctx, *pack, "build", imgB, "--builder", *builderImage, "--path", dirB,
				"--pull-policy", "never", "--network", "none", "--quiet")
			cmd.Env = append(os.Environ(), "PACK_HOME="+packHomeCLI)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("%v: %s", err, tail(string(out)))
			}
			return time.Since(start), err
		}
		if ex == "dockerfile" {
			altName = "docker build"
			altBuild = func() (time.Duration, error) {
				start := time.Now()
				out, err := exec.CommandContext(ctx, "docker", "build", "--network", "none", "-q", "-t", imgB, dirB).CombinedOutput()
				if err != nil {
					err = fmt.Errorf("%v: %s", err, tail(string(out)))
				}
				return time.Since(start), err
			}
		}
		// Each tool's copy gets a different comment in the file the build
		// really uses, stamped with this run's start: Docker's build cache
		// (shared by the engine) then never hands one tool the other's
		// layers, or an earlier run's.
		for _, d := range []struct{ dir, tool string }{{dirA, "apprun"}, {dirB, altName}} {
			marker := comment(changed[ex]) + strings.TrimSpace(comment(changed[ex])) + fmt.Sprintf(" %s %d\n", d.tool, runStart.UnixNano())
			if err := appendTo(filepath.Join(d.dir, changed[ex]), marker); err != nil {
				fail(err)
			}
		}
		for _, step := range []string{"first build", "no change", "one file changed"} {
			runs := *repeat
			if step == "first build" {
				runs = 1 // only the first build is cold
			}
			var as, ps []time.Duration
			var stepErr error
			for i := 0; i < runs; i++ {
				if step == "one file changed" {
					for _, d := range []string{dirA, dirB} {
						if err := appendTo(filepath.Join(d, changed[ex]), comment(changed[ex])); err != nil {
							fail(err)
						}
					}
				}
				// Alternate which tool goes first, so neither always
				// meets a warmer page cache.
				var a, p time.Duration
				var errA, errP error
				if (i+len(rows))%2 == 0 {
					a, errA = apprunBuild()
					p, errP = altBuild()
				} else {
					p, errP = altBuild()
					a, errA = apprunBuild()
				}
				if errA != nil && stepErr == nil {
					stepErr = fmt.Errorf("apprun: %w", errA)
				}
				if errP != nil && stepErr == nil {
					stepErr = fmt.Errorf("%s: %w", altName, errP)
				}
				as, ps = append(as, a), append(ps, p)
				fmt.Fprintf(os.Stderr, "%s / %s #%d: apprun %.2fs, %s %.2fs\n", ex, step, i+1, a.Seconds(), altName, p.Seconds())
			}
			rows = append(rows, row{example: ex, step: step, apprun: median(as), alt: median(ps), altName: altName, runs: runs, err: stepErr})
		}
	}
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	for _, img := range images {
		_ = b.RemoveCache(cleanCtx, img)
		_ = exec.Command("docker", "rmi", "-f", img).Run()
	}
	removePackCacheVolumes()
	if ctx.Err() != nil {
		fail(fmt.Errorf("interrupted; removed the images and caches this run made"))
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "example\tstep\truns\tapprun (s)\talternative\talt (s)\tapprun/alt\t")
	for _, r := range rows {
		ratio := "-"
		if r.err == nil && r.alt > 0 {
			ratio = fmt.Sprintf("%.2f", r.apprun.Seconds()/r.alt.Seconds())
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%.2f\t%s\t%.2f\t%s\t\n", r.example, r.step, r.runs, r.apprun.Seconds(), r.altName, r.alt.Seconds(), ratio)
	}
	w.Flush()
	for _, r := range rows {
		if r.err != nil {
			fmt.Printf("error: %s / %s: %v\n", r.example, r.step, r.err)
		}
	}
}

// removePackCacheVolumes removes the cache volumes the pack CLI made for
// this benchmark's images: pack names them after the image reference, so
// they carry "apprun-bench" and nothing else of the user's does.
func removePackCacheVolumes() {
	out, err := exec.Command("docker", "volume", "ls", "-q", "--filter", "name=pack-cache-").Output()
	if err != nil {
		return
	}
	for _, v := range strings.Fields(string(out)) {
		if strings.Contains(v, "apprun-bench") {
			_ = exec.Command("docker", "volume", "rm", "-f", v).Run()
		}
	}
}

func appendTo(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
