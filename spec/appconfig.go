package spec

// AppConfig is apprun.yaml: the build and run settings that travel with the
// source. It is a superset of App Runner's apprunner.yaml (version 1.0), so
// an App Runner user's file works unchanged; apprun's additions are marked.
//
// Field names in YAML are App Runner's (kebab-case); the JSON form (in the
// API's revision snapshots) uses the same names.
type AppConfig struct {
	// Version is the file format version; "1.0" is the only one.
	Version string `yaml:"version" json:"version"`
	// Runtime names the language runtime (App Runner's python3, nodejs18,
	// go1, ...). apprun's buildpacks detect the language themselves; when
	// set, it picks the buildpack.
	Runtime string      `yaml:"runtime" json:"runtime,omitempty"`
	Build   BuildConfig `yaml:"build" json:"build"`
	Run     RunConfig   `yaml:"run" json:"run"`
}

// BuildConfig is the build section.
type BuildConfig struct {
	Commands BuildCommands `yaml:"commands" json:"commands"`
	Env      []EnvVar      `yaml:"env" json:"env,omitempty"`
	// Dockerfile (apprun) builds the image from this Dockerfile, relative to
	// the source root, instead of with buildpacks.
	Dockerfile string `yaml:"dockerfile" json:"dockerfile,omitempty"`
}

// BuildCommands are shell commands run in order during the build, with App
// Runner's meaning: pre-build, build, post-build. In YAML each may be one
// string or a list of strings.
type BuildCommands struct {
	PreBuild  []string `yaml:"pre-build" json:"pre-build,omitempty"`
	Build     []string `yaml:"build" json:"build,omitempty"`
	PostBuild []string `yaml:"post-build" json:"post-build,omitempty"`
}

// RunConfig is the run section.
type RunConfig struct {
	// RuntimeVersion pins the runtime's version (App Runner's
	// runtime-version).
	RuntimeVersion string `yaml:"runtime-version" json:"runtime-version,omitempty"`
	// PreRun commands run in the image after the build (App Runner's
	// revised builds).
	PreRun []string `yaml:"pre-run" json:"pre-run,omitempty"`
	// Command starts the app (the web process).
	Command string        `yaml:"command" json:"command,omitempty"`
	Network NetworkConfig `yaml:"network" json:"network"`
	Env     []EnvVar      `yaml:"env" json:"env,omitempty"`
	Secrets []SecretRef   `yaml:"secrets" json:"secrets,omitempty"`
}

// NetworkConfig is run.network.
type NetworkConfig struct {
	// Port the app listens on (default 8080).
	Port int `yaml:"port" json:"port,omitempty"`
	// Env names an environment variable that receives the port (App
	// Runner's run.network.env); PORT is always set too.
	Env string `yaml:"env" json:"env,omitempty"`
}

// EnvVar is one name/value pair, App Runner's list form.
type EnvVar struct {
	Name  string `yaml:"name" json:"name"`
	Value string `yaml:"value" json:"value"`
}

// SecretRef makes a secret available as an environment variable. ValueFrom
// names the service secret to read (in App Runner, a Secrets Manager or SSM
// ARN; such a reference is accepted by the parser and must be stored as a
// service secret of that name to resolve).
type SecretRef struct {
	Name      string `yaml:"name" json:"name"`
	ValueFrom string `yaml:"value-from" json:"value-from"`
}

// DefaultPort is App Runner's default container port.
const DefaultPort = 8080

// Process is one process type: a name from the Procfile ("web", "worker")
// and the command that runs it. Only "web" receives traffic.
type Process struct {
	Type    string `json:"type"`
	Command string `json:"command"`
}

// WebProcess is the process type that is routed.
const WebProcess = "web"
