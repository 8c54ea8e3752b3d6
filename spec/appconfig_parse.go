package spec

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
)

// ParseAppConfig parses and validates apprun.yaml (or App Runner's
// apprunner.yaml, which it reads unchanged). On failure the error is
// Problems: every syntax, type and validation problem, each with the field
// as the file spells it and its line, in file order.
func ParseAppConfig(data []byte) (AppConfig, error) {
	root, err := ParseYAML(data)
	if err != nil {
		return AppConfig{}, syntaxProblems(err)
	}
	var file appConfigFile
	lines := map[string]int{}
	err = decodeYAML(root, &file, lines)
	decoded, ok := AsProblems(err)
	if err != nil && !ok {
		return AppConfig{}, err
	}
	for _, p := range decoded {
		if p.Field == "" {
			// The file is not a mapping at all; checking the empty
			// config it decoded to would only add noise.
			return AppConfig{}, decoded
		}
	}
	cfg := file.appConfig()
	ps := decoded
	if verr, _ := AsProblems(cfg.Validate()); len(verr) > 0 {
		for _, p := range verr {
			if !reported(p.Field, decoded) {
				p.Line = lineOf(lines, p.Field)
				ps = append(ps, p)
			}
		}
	}
	if len(ps) > 0 {
		slices.SortStableFunc(ps, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
		return AppConfig{}, ps
	}
	return cfg, nil
}

// reported reports whether a problem with field (or a field holding it)
// is among ps already; a value that failed to decode need not be validated
// too.
func reported(field string, ps Problems) bool {
	for _, p := range ps {
		if p.Field == field || strings.HasPrefix(field, p.Field+".") || strings.HasPrefix(field, p.Field+"[") {
			return true
		}
	}
	return false
}

// lineOf returns the line of field, or of the nearest field holding it that
// the file has (a missing run.network.port is reported at run.network), or
// 0.
func lineOf(lines map[string]int, field string) int {
	for field != "" {
		if line, ok := lines[field]; ok {
			return line
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			return 0
		}
		field = field[:i]
	}
	return 0
}

// appConfigFile mirrors AppConfig as the file is written: the command lists
// there may each be one string or a list of strings, as in App Runner.
type appConfigFile struct {
	Version string    `yaml:"version"`
	Runtime string    `yaml:"runtime"`
	Build   buildFile `yaml:"build"`
	Run     runFile   `yaml:"run"`
}

type buildFile struct {
	Commands struct {
		PreBuild  commandList `yaml:"pre-build"`
		Build     commandList `yaml:"build"`
		PostBuild commandList `yaml:"post-build"`
	} `yaml:"commands"`
	Env        []EnvVar `yaml:"env"`
	Dockerfile string   `yaml:"dockerfile"`
}

type runFile struct {
	RuntimeVersion string        `yaml:"runtime-version"`
	PreRun         commandList   `yaml:"pre-run"`
	Command        string        `yaml:"command"`
	Network        NetworkConfig `yaml:"network"`
	Env            []EnvVar      `yaml:"env"`
	Secrets        []SecretRef   `yaml:"secrets"`
}

func (f appConfigFile) appConfig() AppConfig {
	return AppConfig{
		Version: f.Version,
		Runtime: f.Runtime,
		Build: BuildConfig{
			Commands: BuildCommands{
				PreBuild:  f.Build.Commands.PreBuild,
				Build:     f.Build.Commands.Build,
				PostBuild: f.Build.Commands.PostBuild,
			},
			Env:        f.Build.Env,
			Dockerfile: f.Build.Dockerfile,
		},
		Run: RunConfig{
			RuntimeVersion: f.Run.RuntimeVersion,
			PreRun:         f.Run.PreRun,
			Command:        f.Run.Command,
			Network:        f.Run.Network,
			Env:            f.Run.Env,
			Secrets:        f.Run.Secrets,
		},
	}
}

// commandList is one shell command or a list of them.
type commandList []string

func (c *commandList) UnmarshalYAMLNode(n *YAMLNode) error {
	switch n.Kind {
	case YAMLScalar:
		*c = commandList{n.Value}
		return nil
	case YAMLSequence:
		var list []string
		err := n.Decode(&list)
		*c = list
		return err
	}
	return fmt.Errorf("expected a command or a list of commands, found %s", describeNode(n))
}

// EffectivePort is the port the app listens on: run.network.port, or
// DefaultPort when it is unset (or out of range, which Validate refuses).
func (c AppConfig) EffectivePort() int {
	if p := c.Run.Network.Port; p >= 1 && p <= 65535 {
		return p
	}
	return DefaultPort
}

// Validate returns every problem with the config, each with the field as
// apprun.yaml spells it.
func (c AppConfig) Validate() error {
	var ps Problems
	switch c.Version {
	case "1.0":
	case "":
		ps.Add("version", "is required: write version: 1.0")
	default:
		ps.Add("version", "must be 1.0, got %q", c.Version)
	}
	noNUL(&ps, "runtime", c.Runtime)
	validateCommands(&ps, "build.commands.pre-build", c.Build.Commands.PreBuild)
	validateCommands(&ps, "build.commands.build", c.Build.Commands.Build)
	validateCommands(&ps, "build.commands.post-build", c.Build.Commands.PostBuild)
	validateEnvList(&ps, "build.env", c.Build.Env)
	if err := validateDockerfile(c.Build.Dockerfile); err != nil {
		ps.Add("build.dockerfile", "%v", err)
	}
	noNUL(&ps, "run.runtime-version", c.Run.RuntimeVersion)
	validateCommands(&ps, "run.pre-run", c.Run.PreRun)
	noNUL(&ps, "run.command", c.Run.Command)
	if p := c.Run.Network.Port; p != 0 && (p < 1 || p > 65535) {
		ps.Add("run.network.port", "must be between 1 and 65535, got %d", p)
	}
	if e := c.Run.Network.Env; e != "" {
		if err := ValidateEnvName(e); err != nil {
			ps.Add("run.network.env", "%v", err)
		}
	}
	validateEnvList(&ps, "run.env", c.Run.Env)
	validateSecrets(&ps, "run.secrets", c.Run.Secrets)
	return ps.Err()
}

func noNUL(ps *Problems, field, s string) {
	if strings.ContainsRune(s, 0) {
		ps.Add(field, "must not contain a NUL byte")
	}
}

func validateCommands(ps *Problems, field string, cmds []string) {
	for i, c := range cmds {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(c) == "" {
			ps.Add(f, "must not be empty")
		}
		noNUL(ps, f, c)
	}
}

func validateEnvList(ps *Problems, field string, env []EnvVar) {
	seen := map[string]int{}
	for i, e := range env {
		f := fmt.Sprintf("%s[%d]", field, i)
		if e.Name == "" {
			ps.Add(f+".name", "is required")
		} else if err := ValidateEnvName(e.Name); err != nil {
			ps.Add(f+".name", "%v", err)
		} else if j, dup := seen[e.Name]; dup {
			ps.Add(f+".name", "%q is already set by %s[%d]", e.Name, field, j)
		} else {
			seen[e.Name] = i
		}
		noNUL(ps, f+".value", e.Value)
	}
}

// validateSecrets checks run.secrets. A secret's name is not held to
// ValidateEnvName: App Runner's own examples name secrets like
// "my-secret", and such a file must keep working.
func validateSecrets(ps *Problems, field string, secrets []SecretRef) {
	seen := map[string]int{}
	for i, s := range secrets {
		f := fmt.Sprintf("%s[%d]", field, i)
		if s.Name == "" {
			ps.Add(f+".name", "is required")
		} else if strings.ContainsAny(s.Name, "=\x00") {
			ps.Add(f+".name", "%q must not contain '=' or a NUL byte", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			ps.Add(f+".name", "%q is already set by %s[%d]", s.Name, field, j)
		} else {
			seen[s.Name] = i
		}
		if s.ValueFrom == "" {
			ps.Add(f+".value-from", "is required: name the secret to read")
		}
		noNUL(ps, f+".value-from", s.ValueFrom)
	}
}

// validateDockerfile checks that p names a file inside the source tree, so
// that a build can never read outside it.
func validateDockerfile(p string) error {
	switch {
	case p == "":
		return nil
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("must not contain a NUL byte")
	case strings.Contains(p, `\`):
		return fmt.Errorf("%q must use '/' to separate directories", p)
	case path.IsAbs(p):
		return fmt.Errorf("%q must be relative to the source root", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		return fmt.Errorf("%q must stay inside the source: '..' is not allowed", p)
	case p == "." || strings.HasSuffix(p, "/"):
		return fmt.Errorf("%q must name a file", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not a clean path: write %q", p, path.Clean(p))
	}
	return nil
}
