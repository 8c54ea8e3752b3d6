package bootstrap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
)

// Defaults of Config.
const (
	DefaultRunImage         = "apprun/run:bookworm"
	DefaultBuildImage       = "apprun/build:bookworm"
	DefaultBuilderImage     = "apprun/builder:bookworm"
	DefaultLifecycleVersion = "0.21.0"

	// LifecycleImageRepo is where pack looks for the lifecycle image in the
	// untrusted flow when BuildOptions.LifecycleImage is empty.
	LifecycleImageRepo = "buildpacksio/lifecycle"
)

// aptSourcesCandidates are the host's apt sources files, in the order they
// are tried when Config.AptSources is empty.
var aptSourcesCandidates = []string{
	"/etc/apt/sources.list.d/debian.sources",
	"/etc/apt/sources.list",
}

// Config says what the bootstrap makes and where it keeps it. The zero value
// with DataDir and Source set, after SetDefaults, makes the default images.
type Config struct {
	// DataDir keeps what outlives a run: the lifecycle tarball and the
	// lock (in bootstrap/) and pack's home (pack/). Required. Scratch files,
	// rootfs tarballs among them, live in bootstrap/tmp-* for one run only.
	DataDir string

	// RunImage, BuildImage and BuilderImage name the images made.
	// Defaults: DefaultRunImage, DefaultBuildImage, DefaultBuilderImage.
	RunImage     string
	BuildImage   string
	BuilderImage string

	// LifecycleVersion is the CNB lifecycle compiled from the Go module
	// proxy. Default: DefaultLifecycleVersion.
	LifecycleVersion string

	// LifecycleImage names the lifecycle image. Default:
	// buildpacksio/lifecycle:<LifecycleVersion>, the name pack looks for
	// in the untrusted flow; another name works only if the builds pass it
	// in BuildOptions.LifecycleImage.
	LifecycleImage string

	// GoRoot is the Go toolchain that compiles the lifecycle and the
	// buildpacks and is copied into the build image at /usr/local/go.
	// Empty means the GOROOT of the go command on PATH.
	GoRoot string

	// AptSources is the apt sources file mmdebstrap takes as its mirror
	// argument, so that no mirror is named anywhere in apprun. Empty means
	// the first of /etc/apt/sources.list.d/debian.sources and
	// /etc/apt/sources.list that exists.
	AptSources string

	// Source holds the source of the buildpacks program at its paths in
	// the module (spec/*.go and builder/buildpacks/**): cmd/apprun passes
	// apprun.BuildpackSource. Test files and testdata are skipped.
	// Required.
	Source fs.FS

	// Progress receives the "-----> " step lines. Default: io.Discard.
	Progress io.Writer

	// Log receives the commands run and their output at debug level.
	// Default: a logger that discards.
	Log *slog.Logger

	// Force makes every output again even when its hash matches.
	Force bool
}

// SetDefaults fills the empty fields that have a default. It does no I/O:
// GoRoot and AptSources are resolved when Run or Check starts.
func (c *Config) SetDefaults() {
	if c.RunImage == "" {
		c.RunImage = DefaultRunImage
	}
	if c.BuildImage == "" {
		c.BuildImage = DefaultBuildImage
	}
	if c.BuilderImage == "" {
		c.BuilderImage = DefaultBuilderImage
	}
	if c.LifecycleVersion == "" {
		c.LifecycleVersion = DefaultLifecycleVersion
	}
	if c.LifecycleImage == "" {
		c.LifecycleImage = LifecycleImageRepo + ":" + c.LifecycleVersion
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

var (
	// imageRefPattern accepts what this package writes: a lowercase
	// repository path and an explicit tag (pack resolves an untagged name
	// to :latest, which would silently diverge from what was made).
	imageRefPattern = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	versionPattern  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
)

// Validate reports the first field that makes c unusable. Call it after
// SetDefaults.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("bootstrap: data dir must be set")
	case !filepath.IsAbs(c.DataDir):
		return fmt.Errorf("bootstrap: data dir %q must be an absolute path", c.DataDir)
	case c.Source == nil:
		return errors.New("bootstrap: buildpack source must be set")
	case !versionPattern.MatchString(c.LifecycleVersion):
		return fmt.Errorf("bootstrap: lifecycle version %q must look like 0.21.0", c.LifecycleVersion)
	case c.GoRoot != "" && !filepath.IsAbs(c.GoRoot):
		return fmt.Errorf("bootstrap: GOROOT %q must be an absolute path", c.GoRoot)
	case c.Progress == nil || c.Log == nil:
		return errors.New("bootstrap: call SetDefaults before Validate")
	}
	names := map[string]string{}
	for _, f := range []struct{ field, ref string }{
		{"run image", c.RunImage},
		{"build image", c.BuildImage},
		{"builder image", c.BuilderImage},
		{"lifecycle image", c.LifecycleImage},
	} {
		if !imageRefPattern.MatchString(f.ref) {
			return fmt.Errorf("bootstrap: %s %q must be a lowercase name with a tag, like apprun/run:bookworm", f.field, f.ref)
		}
		if other, dup := names[f.ref]; dup {
			return fmt.Errorf("bootstrap: %s and %s are both %q", other, f.field, f.ref)
		}
		names[f.ref] = f.field
	}
	if strings.ContainsRune(c.DataDir, 0) {
		return errors.New("bootstrap: data dir must not contain a NUL byte")
	}
	return nil
}

// PackHome is the PACK_HOME that builds with the builder should use: stable,
// so that pack finds the same cache volumes (named from the keys it keeps
// there) from one build to the next. Run sets it in the environment.
func PackHome(dataDir string) string {
	return filepath.Join(dataDir, "pack")
}

// workDir is where the bootstrap keeps its own files in the data dir.
func workDir(dataDir string) string {
	return filepath.Join(dataDir, "bootstrap")
}
