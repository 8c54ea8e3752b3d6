package deployer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// ImageRepository is the repository of a service's built images; each
// deployment tags its own ("apprun/app-<service ID>:<deployment number>").
// Names derive from the ID, never the name: a service deleted and made
// again does not inherit images.
func ImageRepository(serviceID string) string { return "apprun/app-" + serviceID }

// pruneWindow bounds how many revisions past KeepRevisions one prune looks
// at: older ones were pruned by earlier deployments.
const pruneWindow = 50

// pruneImages removes the images of the service's revisions older than its
// newest KeepRevisions, so disk use stays bounded however many times a
// service deploys. Only apprun's own tags for this service are touched,
// never the serving revision's, and the engine refuses an image a
// container still uses.
func (d *Deployer) pruneImages(ctx context.Context, svc spec.Service, serving spec.Revision) {
	revs, err := d.cfg.Store.ListRevisions(ctx, svc.Name)
	if err != nil {
		d.log.Debug("pruning images: listing revisions", "service", svc.Name, "err", err)
		return
	}
	prefix := ImageRepository(svc.ID) + ":"
	removed := 0
	for n, r := range revs { // newest first
		if n < d.cfg.KeepRevisions || n >= d.cfg.KeepRevisions+pruneWindow || r.ID == serving.ID || !strings.HasPrefix(r.Image, prefix) {
			continue
		}
		if err := d.cfg.Runtime.RemoveImage(ctx, r.Image); err != nil {
			d.log.Debug("pruning an old revision's image", "service", svc.Name, "revision", r.Number, "err", err)
			continue
		}
		removed++
	}
	if removed > 0 {
		d.log.Info("removed old revisions' images", "service", svc.Name, "checked", min(len(revs)-d.cfg.KeepRevisions, pruneWindow), "keep", d.cfg.KeepRevisions)
	}
}

// checkImage tells, before a revision deploy is recorded, that the
// revision's image is gone (pruned, or removed by hand), in words that say
// what to do.
func (d *Deployer) checkImage(ctx context.Context, rev spec.Revision) error {
	img := rev.Digest
	if img == "" {
		img = rev.Image
	}
	_, err := d.cfg.Runtime.ImageUser(ctx, img)
	if errors.Is(err, spec.ErrNotFound) {
		return fmt.Errorf("the image of revision #%d is no longer on this engine (apprun keeps the images of each service's newest %d revisions); deploy its source again: %w",
			rev.Number, d.cfg.KeepRevisions, spec.ErrConflict)
	}
	return err
}

// pruneAfter runs pruneImages in the background once a deployment
// succeeded; it never holds up the deployment's answer.
func (d *Deployer) pruneAfter(svc spec.Service, serving spec.Revision) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		d.pruneImages(ctx, svc, serving)
	}()
}
