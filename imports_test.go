package apprun_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/apprun/apprun"

// planes are the packages of DESIGN.md that must not import each other:
// each declares the small interfaces it needs and cmd/apprun wires them.
var planes = []string{"web", "source", "builder", "deployer", "router"}

// owners names, for each outside system, the only packages of ours that may
// import it directly (DESIGN.md: "one package owns each outside system").
var owners = []struct {
	prefix string
	allow  []string
}{
	{"github.com/docker/docker", []string{"deployer/docker", "builder"}},
	{"github.com/moby/", []string{"deployer/docker", "builder"}},
	{"github.com/buildpacks/", []string{"builder"}},
	{"github.com/traefik/", []string{"router/traefikcfg"}},
	{"github.com/caddyserver/certmagic", []string{"router/tls"}},
	{"database/sql", []string{"store"}},
	{"modernc.org/sqlite", []string{"store"}},
}

// testOnly names outside systems that no package of ours may import, and
// only the tests of the listed packages may (Pebble, the ACME test server).
var testOnly = []struct {
	prefix string
	allow  []string
}{
	{"github.com/letsencrypt/pebble", []string{"router/tls"}},
}

// pkg is what the rules need of one package: its path inside the module,
// its direct imports, all its dependencies and its tests' imports.
type pkg struct {
	rel         string
	imports     []string
	deps        []string
	testImports []string
}

func planeOf(rel string) string {
	for _, p := range planes {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return p
		}
	}
	return ""
}

// checkRules returns every broken import rule; it is a pure function so the
// rules themselves are tested on graphs that break them.
func checkRules(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		for _, d := range p.deps {
			rel, ours := strings.CutPrefix(d, module+"/")
			if p.rel == "spec" || strings.HasPrefix(p.rel, "spec/") {
				if ours || strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
					bad = append(bad, fmt.Sprintf("spec must import only the standard library, but depends on %s", d))
				}
			}
			if !ours {
				continue
			}
			if rel == "cmd/apprun" {
				bad = append(bad, fmt.Sprintf("%s depends on the composition root cmd/apprun", p.rel))
			}
			if from, to := planeOf(p.rel), planeOf(rel); from != "" && to != "" && from != to {
				bad = append(bad, fmt.Sprintf("%s depends on %s: %s and %s must not import each other (declare an interface, wire it in cmd/apprun)", p.rel, rel, from, to))
			}
			if p.rel == "store" || strings.HasPrefix(p.rel, "store/") {
				if to := planeOf(rel); to != "" {
					bad = append(bad, fmt.Sprintf("store depends on %s: the store sits below every plane", rel))
				}
			}
		}
		for _, o := range testOnly {
			allowed := slices.ContainsFunc(o.allow, func(a string) bool { return p.rel == a || strings.HasPrefix(p.rel, a+"/") })
			for _, imp := range p.imports {
				if imp == o.prefix || strings.HasPrefix(imp, o.prefix+"/") {
					bad = append(bad, fmt.Sprintf("%s imports %s, which only tests of %s may import", p.rel, imp, strings.Join(o.allow, " and ")))
				}
			}
			for _, imp := range p.testImports {
				if !allowed && (imp == o.prefix || strings.HasPrefix(imp, o.prefix+"/")) {
					bad = append(bad, fmt.Sprintf("tests of %s import %s, which only tests of %s may import", p.rel, imp, strings.Join(o.allow, " and ")))
				}
			}
		}
		for _, imp := range p.imports {
			for _, o := range owners {
				if imp == o.prefix || strings.HasPrefix(imp, o.prefix) {
					if !slices.ContainsFunc(o.allow, func(a string) bool { return p.rel == a || strings.HasPrefix(p.rel, a+"/") }) {
						bad = append(bad, fmt.Sprintf("%s imports %s, which only %s may import", p.rel, imp, strings.Join(o.allow, " and ")))
					}
				}
			}
		}
	}
	return bad
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 4)
		if len(parts) != 4 {
			t.Fatalf("unexpected go list line %q", sc.Text())
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(parts[0], module), "/")
		pkgs = append(pkgs, pkg{rel: rel, imports: strings.Fields(parts[1]), deps: strings.Fields(parts[2]), testImports: strings.Fields(parts[3])})
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, b := range checkRules(pkgs) {
		t.Error(b)
	}
}

// TestImportRulesCatchViolations proves each rule fires, so a green
// TestImportRules means something.
func TestImportRulesCatchViolations(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	for _, tc := range []struct {
		name string
		p    pkg
		want string
	}{
		{"spec imports ours", pkg{rel: "spec", deps: []string{m("store")}}, "standard library"},
		{"spec imports a module", pkg{rel: "spec", deps: []string{"gopkg.in/yaml.v3"}}, "standard library"},
		{"web imports router", pkg{rel: "web", deps: []string{m("router")}}, "must not import each other"},
		{"deployer sub imports builder", pkg{rel: "deployer/plan", deps: []string{m("builder")}}, "must not import each other"},
		{"store imports web", pkg{rel: "store", deps: []string{m("web")}}, "below every plane"},
		{"docker outside deployer/docker", pkg{rel: "deployer", imports: []string{"github.com/docker/docker/client"}}, "only deployer/docker"},
		{"certmagic outside router/tls", pkg{rel: "router", imports: []string{"github.com/caddyserver/certmagic"}}, "only router/tls"},
		{"traefik outside traefikcfg", pkg{rel: "web", imports: []string{"github.com/traefik/traefik/v3/pkg/config/dynamic"}}, "only router/traefikcfg"},
		{"sql outside store", pkg{rel: "web", imports: []string{"database/sql"}}, "only store"},
		{"importing cmd/apprun", pkg{rel: "web", deps: []string{m("cmd/apprun")}}, "composition root"},
		{"pebble in router/tls code", pkg{rel: "router/tls", imports: []string{"github.com/letsencrypt/pebble/v2/wfe"}}, "only tests of router/tls"},
		{"pebble in other tests", pkg{rel: "web", testImports: []string{"github.com/letsencrypt/pebble/v2/ca"}}, "only tests of router/tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkRules([]pkg{tc.p})
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Fatalf("want a violation mentioning %q, got %q", tc.want, got)
			}
		})
	}
	ok := []pkg{
		{rel: "web", deps: []string{m("spec"), m("store"), "net/http"}},
		{rel: "deployer/docker", imports: []string{"github.com/docker/docker/client"}},
		{rel: "router/tls", imports: []string{"github.com/caddyserver/certmagic"}, testImports: []string{"github.com/letsencrypt/pebble/v2/wfe"}},
		{rel: "store", imports: []string{"database/sql", "modernc.org/sqlite"}, deps: []string{m("spec")}},
		{rel: "cmd/apprun", deps: []string{m("web"), m("router"), m("store")}},
	}
	if got := checkRules(ok); len(got) != 0 {
		t.Fatalf("allowed graph flagged: %q", got)
	}
}
