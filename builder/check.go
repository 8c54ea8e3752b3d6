package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Check verifies that the engine answers and has the images builds need:
// the builder, its run image and, for the five-phase flow, the lifecycle
// image. A missing image is reported by name, wrapping ErrMissingImage;
// for apprun's own images, `apprun builder bootstrap` makes them.
func (b *Builder) Check(ctx context.Context) error {
	builder, err := b.engine.ImageInspect(ctx, b.cfg.BuilderImage)
	if err != nil {
		return b.missing(b.cfg.BuilderImage, err)
	}
	images := []string{}
	if builder.Config != nil {
		if run := runImage(builder.Config.Labels); run != "" {
			images = append(images, run)
		}
	}
	if !b.cfg.TrustBuilder && b.cfg.LifecycleImage != "" {
		images = append(images, b.cfg.LifecycleImage)
	}
	for _, img := range images {
		if _, err := b.engine.ImageInspect(ctx, img); err != nil {
			return b.missing(img, err)
		}
	}
	return nil
}

func (b *Builder) missing(image string, err error) error {
	if !isNotFound(err) {
		return fmt.Errorf("inspecting %s: %w", image, err)
	}
	hint := "pull it, or configure another builder"
	if b.cfg.BuilderImage == DefaultBuilderImage {
		hint = "`apprun builder bootstrap` makes it"
	}
	return fmt.Errorf("%w: %s is not on the Docker engine (%s)", ErrMissingImage, image, hint)
}

// runImage reads the run image a CNB builder names in its metadata label.
func runImage(labels map[string]string) string {
	var md struct {
		Stack struct {
			RunImage struct {
				Image string `json:"image"`
			} `json:"runImage"`
		} `json:"stack"`
		RunImages []struct {
			Image string `json:"image"`
		} `json:"images"`
	}
	if json.Unmarshal([]byte(labels["io.buildpacks.builder.metadata"]), &md) != nil {
		return ""
	}
	if len(md.RunImages) > 0 && md.RunImages[0].Image != "" {
		return md.RunImages[0].Image
	}
	return md.Stack.RunImage.Image
}

var volumeRemoveForce = client.VolumeRemoveOptions{Force: true}

// isNotFound reports the engine saying an object does not exist.
func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err) || errors.Is(err, cerrdefs.ErrNotFound)
}
