package bootstrap

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apprun/apprun/builder/buildpacks"
)

// stepID names a step and, in progress lines, its output.
type stepID string

// The steps, in the order Run takes them: each comes after the steps it
// depends on.
const (
	stepRun            stepID = "run image"
	stepBuild          stepID = "build image"
	stepLifecycle      stepID = "lifecycle"
	stepLifecycleImage stepID = "lifecycle image"
	stepBuildpacks     stepID = "buildpacks"
	stepBuilder        stepID = "builder image"
)

// outputKind says where a step's output lives, which decides how its
// presence is observed and whether it is made when nothing needs it.
type outputKind int

const (
	// kindImage is an image in the engine, labelled with its hash: a
	// product, made whenever it is missing or stale.
	kindImage outputKind = iota
	// kindFile is a file in the data dir whose name carries its hash: an
	// intermediate, kept for reuse but made only when an image needs it.
	kindFile
	// kindScratch is an intermediate in the run's scratch directory: made
	// only when an image needs it, never kept.
	kindScratch
)

// step is one output with the hash of its inputs.
type step struct {
	id     stepID
	kind   outputKind
	name   string // the image reference, the file path, or a version
	hash   string
	deps   []stepID
	remark string // what the step line shows after the name, if not name
}

// inputs are the facts gathered from the host and the engine that the
// hashes depend on, beside the Config.
type inputs struct {
	RunImage, BuildImage, BuilderImage, LifecycleImage string
	LifecycleVersion                                   string
	WorkDir                                            string // where the lifecycle tarball is kept

	AptSourcesDigest string // sha256 of the apt sources file's content
	GoVersion        string // `go env GOVERSION` of the host toolchain
	DockerAPIVersion string // set as DOCKER_API_VERSION in images; "" when the engine speaks 1.44+
	SourceDigest     string // sha256 of the buildpacks source
	PackVersion      string // the pack module linked in, which writes the builder's metadata
}

// Debian's bookworm, the suite of both base images.
const (
	suite         = "bookworm"
	distroName    = "debian"
	distroVersion = "12"
)

// The non-root user both images run as. pack reads the ids from the build
// image's CNB_USER_ID and CNB_GROUP_ID; the launcher runs the app as the run
// image's USER.
const (
	userName = "cnb"
	userID   = 1000
	groupID  = 1000
	userHome = "/home/cnb"
)

// basePath is the PATH of both images; imported images have no env at all.
const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// rootfsSpec is what mmdebstrap makes for one base image.
type rootfsSpec struct {
	variant string
	include []string
	withGo  bool // copy the host's Go toolchain to /usr/local/go
}

var (
	runRootfs = rootfsSpec{
		variant: "essential",
		include: []string{"ca-certificates", "nodejs", "python3"},
	}
	buildRootfs = rootfsSpec{
		variant: "minbase",
		include: []string{"ca-certificates", "git", "nodejs", "npm", "python3", "python3-pip"},
		withGo:  true,
	}
)

// mergedUsrHooks is mmdebstrap's hook directory that makes /bin, /lib and
// /sbin symlinks up front; without it bookworm's usrmerge package is
// installed, which pulls in perl.
const mergedUsrHooks = "/usr/share/mmdebstrap/hooks/merged-usr"

// dpkgOptions keep documentation out of the images: dpkg skips these paths
// when it unpacks, here and for anything installed into the image later.
// Copyright files stay, as the licences ask.
var dpkgOptions = []string{
	"path-exclude=/usr/share/man/*",
	"path-exclude=/usr/share/doc/*",
	"path-include=/usr/share/doc/*/copyright",
	"path-exclude=/usr/share/locale/*",
	"path-exclude=/usr/share/info/*",
}

// goRootExcludes are the top-level parts of GOROOT a build never uses: the
// compiler's own test suite.
var goRootExcludes = []string{"test"}

// lifecycleLDFlags is the link of the lifecycle binaries, as its Makefile
// does it, less the SCM fields.
func lifecycleLDFlags(version string) string {
	return "-s -w -X github.com/buildpacks/lifecycle/cmd.Version=" + version
}

// imageChanges is the Dockerfile-like config given to the image import:
// everything of an image's config besides its rootfs.
func imageChanges(spec rootfsSpec, in inputs) []string {
	path := basePath
	if spec.withGo {
		path = "/usr/local/go/bin:" + basePath
	}
	changes := []string{
		"ENV PATH=" + path,
		"ENV HOME=" + userHome,
	}
	if spec.withGo {
		changes = append(changes,
			fmt.Sprintf("ENV CNB_USER_ID=%d", userID),
			fmt.Sprintf("ENV CNB_GROUP_ID=%d", groupID),
		)
		// The creator (trusted flow) runs in the builder, which inherits
		// this env; its Docker client does not negotiate below 1.44.
		if in.DockerAPIVersion != "" {
			changes = append(changes, "ENV DOCKER_API_VERSION="+in.DockerAPIVersion)
		}
	}
	return append(changes,
		"LABEL io.buildpacks.base.distro.name="+distroName,
		"LABEL io.buildpacks.base.distro.version="+distroVersion,
		fmt.Sprintf("USER %d:%d", userID, groupID),
	)
}

// recipes turns the inputs into the steps of a bootstrap, each with the
// hash of everything that goes into its output. It is pure.
func recipes(in inputs) []step {
	rootfsHash := func(kind string, spec rootfsSpec) string {
		h := newHasher(kind).
			field("suite", suite).
			field("variant", spec.variant).
			field("include", spec.include...).
			field("hooks", mergedUsrHooks).
			field("dpkg", dpkgOptions...).
			field("apt-sources", in.AptSourcesDigest).
			field("user", userName, fmt.Sprint(userID), fmt.Sprint(groupID), userHome).
			field("changes", imageChanges(spec, in)...)
		if spec.withGo {
			h.field("go", in.GoVersion).field("go-excludes", goRootExcludes...)
		}
		return h.sum()
	}
	run := step{id: stepRun, kind: kindImage, name: in.RunImage, hash: rootfsHash("run", runRootfs)}
	build := step{id: stepBuild, kind: kindImage, name: in.BuildImage, hash: rootfsHash("build", buildRootfs)}

	lcHash := newHasher("lifecycle").
		field("version", in.LifecycleVersion).
		field("go", in.GoVersion).
		field("ldflags", lifecycleLDFlags(in.LifecycleVersion)).
		sum()
	lifecycle := step{
		id:     stepLifecycle,
		kind:   kindFile,
		name:   filepath.Join(in.WorkDir, lifecycleFileName(in.LifecycleVersion, lcHash)),
		hash:   lcHash,
		remark: in.LifecycleVersion,
	}

	lcImage := step{
		id:   stepLifecycleImage,
		kind: kindImage,
		name: in.LifecycleImage,
		hash: newHasher("lifecycle-image").
			field("run", run.hash).
			field("lifecycle", lifecycle.hash).
			field("docker-api", in.DockerAPIVersion).
			sum(),
		deps: []stepID{stepRun, stepLifecycle},
	}

	bpHash := newHasher("buildpacks").
		field("source", in.SourceDigest).
		field("go", in.GoVersion).
		field("version", buildpacks.Version).
		sum()
	bps := step{id: stepBuildpacks, kind: kindScratch, name: buildpacks.Version, hash: bpHash}

	order := make([]string, 0, 12)
	for _, group := range buildpacks.Order() {
		for _, e := range group {
			order = append(order, fmt.Sprintf("%s@%v", e.ID, e.Optional))
		}
		order = append(order, "|")
	}
	builder := step{
		id:   stepBuilder,
		kind: kindImage,
		name: in.BuilderImage,
		hash: newHasher("builder").
			field("run", run.hash, in.RunImage).
			field("build", build.hash, in.BuildImage).
			field("lifecycle", lifecycle.hash).
			field("buildpacks", bps.hash).
			field("order", order...).
			field("pack", in.PackVersion).
			sum(),
		deps: []stepID{stepRun, stepBuild, stepLifecycle, stepBuildpacks},
	}
	return []step{run, build, lifecycle, lcImage, bps, builder}
}

// lifecycleFileName names the lifecycle tarball after its version and hash.
func lifecycleFileName(version, hash string) string {
	return "lifecycle-" + version + "-" + shortHash(hash) + ".tgz"
}

// isLifecycleFile reports whether name is a lifecycle tarball of any hash,
// so that old ones can be found and removed.
func isLifecycleFile(name, version string) bool {
	return strings.HasPrefix(name, "lifecycle-"+version+"-") && strings.HasSuffix(name, ".tgz")
}
