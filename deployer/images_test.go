package deployer_test

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

// After a deployment, the images of revisions older than the newest
// KeepRevisions are removed; a rollback to one says so and records nothing.
func TestOldRevisionImagesArePruned(t *testing.T) {
	h := newHarness(t, func(c *deployer.Config) { c.KeepRevisions = 2 })
	svc := h.service("web", nil)
	repo := deployer.ImageRepository(svc.ID)
	var revs []spec.Revision
	for n := 1; n <= 3; n++ {
		tag := repo + ":" + strconv.Itoa(n)
		if out, err := exec.Command("docker", "tag", h.image, tag).CombinedOutput(); err != nil {
			t.Fatalf("docker tag: %v %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("docker", "rmi", tag).Run() })
		snap := svc
		snap.Env = map[string]string{"TESTAPP_VERSION": "v" + strconv.Itoa(n)}
		rev, err := h.st.CreateRevision(context.Background(), spec.Revision{ServiceID: svc.ID, Image: tag, Kind: "dockerfile", Service: snap})
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	for _, r := range revs {
		h.mustDeploy(svc, r)
	}
	exists := func(ref string) bool { return exec.Command("docker", "image", "inspect", ref).Run() == nil }
	eventually(t, 20*time.Second, "the oldest revision's image is removed", func() bool { return !exists(repo + ":1") })
	for _, n := range []string{"2", "3"} {
		if !exists(repo + ":" + n) {
			t.Errorf("the image of revision %s, among the newest 2, was removed", n)
		}
	}
	if !exists(h.image) {
		t.Error("the test image itself, which is not the service's, was removed")
	}
	before, _ := h.st.ListDeployments(context.Background(), "web")
	_, err := h.d.Deploy(context.Background(), deployer.DeployRequest{Service: "web", RevisionID: revs[0].ID}, nil)
	if !errors.Is(err, spec.ErrConflict) || !strings.Contains(err.Error(), "no longer on this engine") {
		t.Errorf("rollback to a pruned revision: %v", err)
	}
	if after, _ := h.st.ListDeployments(context.Background(), "web"); len(after) != len(before) {
		t.Errorf("the refused rollback recorded a deployment")
	}
}
