package builder

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/buildpacks/pack/pkg/blob"
	"github.com/buildpacks/pack/pkg/cache"
	packclient "github.com/buildpacks/pack/pkg/client"
	"github.com/buildpacks/pack/pkg/index"
	"github.com/buildpacks/pack/pkg/logging"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/apprun/apprun/spec"
)

// detectFailed is what the lifecycle's detector prints when no group of
// the builder's order applies; pack itself only reports an exit status.
const detectFailed = "No buildpack groups passed detection"

// buildpacks builds j with pack and the configured CNB builder. It reports
// errNotDetected (and the caller may fall back to the Dockerfile) when the
// builder's detection found nothing.
func (b *Builder) buildpacks(ctx context.Context, j *job) error {
	j.log.Step("Building with buildpacks (builder %s)", b.cfg.BuilderImage)
	docker := &limitedDocker{
		DockerClient: b.packDocker,
		limits:       b.cfg.limits(),
		labels:       map[string]string{labelBuild: j.id, labelService: j.opts.Service},
	}
	logger := logging.NewLogWithWriters(j.log, j.log)
	pc, err := packclient.NewClient(
		packclient.WithLogger(logger),
		packclient.WithDockerClient(docker),
		// pack would read PACK_HOME from the environment for these; the
		// builder's own PackHome keeps two builders (and tests) apart.
		packclient.WithDownloader(blob.NewDownloader(logger, filepath.Join(b.cfg.PackHome, "download-cache"))),
		packclient.WithIndexFactory(index.NewIndexFactory(authn.DefaultKeychain, filepath.Join(b.cfg.PackHome, "manifests"))),
	)
	if err != nil {
		return fmt.Errorf("starting pack: %w", err)
	}
	pull, err := b.cfg.pullPolicy()
	if err != nil {
		return err
	}
	vols := b.cacheVolumes(j.opts.Image)
	env := j.buildEnv()
	if j.network != "none" {
		// apprun's buildpacks stay offline (GOPROXY=off, ...) unless
		// the platform says the build may use a network.
		env["APPRUN_BUILD_NETWORK"] = "1"
	}
	trusted := b.cfg.TrustBuilder
	err = pc.Build(ctx, packclient.BuildOptions{
		Image:          j.opts.Image,
		PreviousImage:  j.opts.PreviousImage,
		Builder:        b.cfg.BuilderImage,
		AppPath:        j.dir,
		Env:            env,
		PullPolicy:     pull,
		LifecycleImage: b.cfg.LifecycleImage,
		TrustBuilder:   func(string) bool { return trusted },
		// -1 keeps the builder's CNB user; pack's zero value means root.
		UserID:  -1,
		GroupID: -1,
		Cache: cache.CacheOpts{
			Build:  cache.CacheInfo{Format: cache.CacheVolume, Source: vols[0]},
			Launch: cache.CacheInfo{Format: cache.CacheVolume, Source: vols[1]},
			Kaniko: cache.CacheInfo{Format: cache.CacheVolume, Source: vols[2]},
		},
		ContainerConfig: packclient.ContainerConfig{Network: j.network},
	})
	if err != nil {
		if tailHas(j.log.Tail(), detectFailed) {
			return errNotDetected
		}
		return fmt.Errorf("%w: %w", ErrBuildFailed, err)
	}
	return nil
}

// errNotDetected is the builder's detection finding nothing.
var errNotDetected = errors.New("no buildpack group passed detection")

func tailHas(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// cacheVolumes names the build, launch and kaniko cache volumes of an
// image's repository. pack would name them from the full reference, tag
// included, so every new tag (apprun/app-x:1, :2, ...) would start with an
// empty cache; apprun keys them on the repository and a per-installation
// secret (as pack's volume key does), so another installation on the same
// engine cannot guess and poison them.
func (b *Builder) cacheVolumes(image string) [3]string {
	repo := repository(image)
	sum := sha256.Sum256([]byte(b.volumeKey + "\x00" + repo))
	base := "apprun-cache-" + sanitizeVolume(repo) + "-" + hex.EncodeToString(sum[:6])
	return [3]string{base + ".build", base + ".launch", base + ".kaniko"}
}

// repository is an image reference without its tag or digest.
func repository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// sanitizeVolume keeps the characters Docker allows in a volume name.
func sanitizeVolume(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

// RemoveCache removes the build caches of an image's repository, for
// when its service is deleted (or a build should start cold).
func (b *Builder) RemoveCache(ctx context.Context, image string) error {
	var errs []error
	for _, v := range b.cacheVolumes(image) {
		if _, err := b.engine.VolumeRemove(ctx, v, volumeRemoveForce); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing cache volume %s: %w", v, err))
		}
	}
	return errors.Join(errs...)
}

// loadVolumeKey reads the installation's cache-volume key from PackHome,
// making it on first use.
func loadVolumeKey(packHome string) (string, error) {
	p := filepath.Join(packHome, "apprun-volume-key")
	data, err := os.ReadFile(p)
	if err == nil && len(strings.TrimSpace(string(data))) >= 16 {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading volume key: %w", err)
	}
	if err := os.MkdirAll(packHome, 0o700); err != nil {
		return "", fmt.Errorf("making pack home: %w", err)
	}
	key := rand.Text()
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing volume key: %w", err)
	}
	return key, nil
}

// buildMetadata is the part of the io.buildpacks.build.metadata label
// the builder reads: the process types the buildpacks declared.
type buildMetadata struct {
	Processes []struct {
		Type    string   `json:"type"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
	} `json:"processes"`
}

// processes reads the process types from an app image's labels.
func processes(labels map[string]string) []spec.Process {
	raw, ok := labels["io.buildpacks.build.metadata"]
	if !ok {
		return nil
	}
	var md buildMetadata
	if err := json.Unmarshal([]byte(raw), &md); err != nil {
		return nil
	}
	var out []spec.Process
	for _, p := range md.Processes {
		out = append(out, spec.Process{Type: p.Type, Command: strings.Join(append(p.Command, p.Args...), " ")})
	}
	return out
}
