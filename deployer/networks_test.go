package deployer_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

// A service on a private network reaches a database on it by name; a
// service not attached cannot, and services cannot reach each other on the
// shared network the router uses.
func TestPrivateNetworks(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if _, err := h.st.CreateNetwork(ctx, spec.Network{Name: "data", Internal: true}); err != nil {
		t.Fatal(err)
	}
	db := h.service("db", func(s *spec.Service) { s.Port = 5432; s.Networks = []string{"data"} })
	h.mustDeploy(db, h.revision(db, "db", map[string]string{"TESTAPP_TCP_ONLY": "5432"}))
	api := h.service("api", func(s *spec.Service) { s.Networks = []string{"data"} })
	h.mustDeploy(api, h.revision(api, "api", nil))
	other := h.service("other", nil)
	h.mustDeploy(other, h.revision(other, "other", nil))

	c := &http.Client{Timeout: 10 * time.Second}
	if code, body, err := h.get(c, "api", "/dial?addr=db:5432"); err != nil || code != 200 {
		t.Errorf("api → db:5432 on the private network: %d %q %v", code, body, err)
	}
	if code, body, _ := h.get(c, "other", "/dial?addr=db:5432"); code == 200 {
		t.Errorf("other reached db:5432 without joining its network: %q", body)
	}
	// By address on the shared network: refused too (no container-to-
	// container traffic there), while the router (the host) reaches both.
	apiInst := h.instances(api)[0]
	if code, body, _ := h.get(c, "other", "/dial?addr="+net.JoinHostPort(apiInst.IP, "8080")); code == 200 {
		t.Errorf("other reached api at %s on the shared network: %q", apiInst.IP, body)
	}
	if code, body, _ := h.get(c, "api", "/"); code != 200 || !strings.Contains(body, "api") {
		t.Errorf("the router reaches api: %d %q", code, body)
	}
}

// A secret reaches the app and appears in no log, deploy output or
// deployment record.
func TestSecretNeverLogged(t *testing.T) {
	h := newHarness(t, nil)
	const canary = "canary-3b1f9c0e5d7a"
	svc := spec.NewService("web")
	svc, err := h.st.CreateService(context.Background(), svc, map[string]string{"CANARY": canary})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	dep, err := h.d.Deploy(context.Background(), deployer.DeployRequest{Service: "web", RevisionID: h.revision(svc, "v1", nil).ID}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, body, _ := h.get(http.DefaultClient, "web", "/env?name=CANARY"); strings.TrimSpace(body) != "set" {
		t.Errorf("the secret did not reach the app: %q", body)
	}
	// A failed deploy too: its reason carries the instance's output.
	bad, _ := h.d.Deploy(context.Background(), deployer.DeployRequest{Service: "web", RevisionID: h.revision(svc, "bad", map[string]string{"TESTAPP_CRASH": "1"}).ID}, &out)
	st, _ := h.d.Instances(context.Background(), "web")
	for what, s := range map[string]string{"deploy output": out.String(), "server log": h.logs.String(), "deployment": dep.Reason + bad.Reason, "instances": func() string {
		var b strings.Builder
		for _, i := range st {
			b.WriteString(i.Name + i.Address)
		}
		return b.String()
	}()} {
		if strings.Contains(s, canary) {
			t.Errorf("the canary secret appears in the %s", what)
		}
	}
}
