package bootstrap

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// lifecycleDockerfile is the Dockerfile of the lifecycle image: the run
// image plus the lifecycle under /cnb, where the lifecycle's own image has it.
// The engine's legacy builder makes it without a registry because the base
// is local.
func lifecycleDockerfile(runImage, dockerAPIVersion string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FROM %s\n", runImage)
	b.WriteString("COPY cnb /cnb\n")
	b.WriteString("WORKDIR /layers\n")
	if dockerAPIVersion != "" {
		// The analyzer and exporter talk to the engine from this image
		// in the untrusted flow, with the same client as the creator.
		fmt.Fprintf(&b, "ENV DOCKER_API_VERSION=%s\n", dockerAPIVersion)
	}
	return b.String()
}

// lifecycleBuildContext is the build context of the lifecycle image: the
// Dockerfile and the lifecycle tarball's entries under cnb/.
func lifecycleBuildContext(dockerfile string, lifecycleTgz io.Reader) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile)), ModTime: epoch,
	}); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(tw, dockerfile); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "cnb/", Mode: 0o755, ModTime: epoch}); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(lifecycleTgz)
	if err != nil {
		return nil, fmt.Errorf("reading the lifecycle tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the lifecycle tarball: %w", err)
		}
		h := *hdr
		h.Name = "cnb/" + strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if hdr.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// makeLifecycleImage builds the lifecycle image from the run image and the
// lifecycle tarball, labelled as pack expects.
func (r *runner) makeLifecycleImage(ctx context.Context, s step) error {
	tgz := r.stepName(stepLifecycle)
	d, err := readDescriptor(tgz)
	if err != nil {
		return err
	}
	labels, err := lifecycleImageLabels(d)
	if err != nil {
		return err
	}
	labels[HashLabel] = s.hash
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	bc, err := lifecycleBuildContext(lifecycleDockerfile(r.cfg.RunImage, r.in.DockerAPIVersion), f)
	if err != nil {
		return err
	}
	return r.eng.buildImage(ctx, s.name, bc, labels)
}
