package docker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

// dial asks the app at fromIP to open a TCP connection to addr.
func dial(t *testing.T, fromIP, addr string) (bool, string) {
	t.Helper()
	code, body, err := get(fromIP, "/dial?addr="+addr)
	if err != nil {
		t.Fatalf("asking %s to dial %s: %v", fromIP, addr, err)
	}
	return code == 200, body
}

// TestIsolatedNetwork checks the shared network's promise: the host (the
// router) reaches every container, containers do not reach each other.
func TestIsolatedNetwork(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	a := start(t, e, appSpec(t, network, "a"))
	bSpec := appSpec(t, network, "b")
	bSpec.User = "4242:4242" // overrides the image's, and start checks it is hardened
	b := start(t, e, bSpec)
	if res, err := e.cli.ContainerInspect(t.Context(), b.ID, client.ContainerInspectOptions{}); err != nil || res.Container.Config.User != "4242:4242" {
		t.Errorf("user of b: %v", err)
	}
	waitReady(t, a.IP)
	waitReady(t, b.IP)
	if ok, body := dial(t, a.IP, net.JoinHostPort(b.IP, "8080")); ok {
		t.Errorf("a reached b on the isolated network: %s", body)
	}
	if ok, body := dial(t, b.IP, net.JoinHostPort(a.IP, "8080")); ok {
		t.Errorf("b reached a on the isolated network: %s", body)
	}
}

// TestPrivateNetworkAlias checks a private network: a member reaches the
// "database" by its alias, a container not on the network reaches it
// neither by alias nor by address.
func TestPrivateNetworkAlias(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	shared := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	private := testNetwork(t, e, deployer.NetworkSpec{Internal: true})

	alias := "db-" + suffix()
	dbSpec := appSpec(t, shared, "db")
	dbSpec.Env = []string{"TESTAPP_TCP_ONLY=5432"}
	dbSpec.Networks = []string{private}
	dbSpec.Aliases = []string{alias}
	db := start(t, e, dbSpec)

	appOn := appSpec(t, shared, "member")
	appOn.Networks = []string{private}
	member := start(t, e, appOn)
	outsider := start(t, e, appSpec(t, shared, "outsider"))

	waitTCP(t, net.JoinHostPort(db.IP, "5432"))
	waitReady(t, member.IP)
	waitReady(t, outsider.IP)

	if ok, body := dial(t, member.IP, alias+":5432"); !ok {
		t.Errorf("the member did not reach %s: %s", alias, body)
	}
	if ok, body := dial(t, outsider.IP, alias+":5432"); ok {
		t.Errorf("the outsider reached %s by alias: %s", alias, body)
	}
	res, err := e.cli.ContainerInspect(t.Context(), db.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	privIP := res.Container.NetworkSettings.Networks[private].IPAddress.String()
	if ok, body := dial(t, outsider.IP, net.JoinHostPort(privIP, "5432")); ok {
		t.Errorf("the outsider reached the database at its private address %s: %s", privIP, body)
	}
	// The primary network's address is what Start reports.
	if db.IP == privIP {
		t.Errorf("Start reported the private address %s, not the primary one", privIP)
	}
}

// TestEnsureNetwork checks that EnsureNetwork is idempotent, settles
// concurrent creators (separate Engines, as separate control planes would
// be) on one network, and refuses a name taken with other options; and
// that RemoveNetwork refuses while containers are attached.
func TestEnsureNetwork(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	n := deployer.NetworkSpec{Name: "apprun-test-race-" + suffix(), Isolated: true, Labels: testLabels(t)}
	t.Cleanup(func() {
		// Remove every network of the name, whatever the test left.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.RemoveNetwork(ctx, n.Name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	const racers = 8
	ids := make([]string, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		r, err := New(Config{}, slog.New(slog.NewTextHandler(t.Output(), nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		wg.Go(func() { ids[i], errs[i] = r.EnsureNetwork(ctx, n) })
	}
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Errorf("racer %d: %v", i, errs[i])
		}
	}
	// The engine (20.10) does create one network per racer; they settle
	// on one. A racer may have returned the ID of a duplicate removed
	// since (see EnsureNetwork), so only the survivor is checked.
	nets, err := e.networksNamed(ctx, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 1 {
		t.Fatalf("%d networks named %s after the race", len(nets), n.Name)
	}
	if nets[0].Labels[deployer.LabelManaged] != "true" || nets[0].Labels[labelTest] == "" || nets[0].Options[optionICC] != "false" {
		t.Errorf("network labels %v, options %v", nets[0].Labels, nets[0].Options)
	}
	kept := nets[0].ID
	if agree := slices.Index(ids, kept); agree < 0 {
		t.Errorf("no racer returned the surviving network %s", short(kept))
	}

	if again, err := e.EnsureNetwork(ctx, n); err != nil || again != kept {
		t.Errorf("EnsureNetwork again = %s, %v; want %s", short(again), err, short(kept))
	}
	other := n
	other.Isolated = false
	if _, err := e.EnsureNetwork(ctx, other); !errors.Is(err, spec.ErrConflict) {
		t.Errorf("EnsureNetwork with other options: %v, want ErrConflict", err)
	}

	inst := start(t, e, appSpec(t, n.Name, "attached"))
	if err := e.Stop(ctx, inst.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	err = e.RemoveNetwork(ctx, n.Name)
	if !errors.Is(err, spec.ErrConflict) || !strings.Contains(err.Error(), inst.Name) {
		t.Errorf("RemoveNetwork with a stopped container attached: %v, want ErrConflict naming %s", err, inst.Name)
	}
	if err := e.Remove(ctx, inst.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveNetwork(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveNetwork(ctx, n.Name); err != nil {
		t.Errorf("removing a missing network: %v", err)
	}
}

func TestRemoveNetworkRefusesForeign(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := t.Context()
	for _, name := range []string{"bridge", "host", "none", ""} {
		if err := e.RemoveNetwork(ctx, name); err == nil {
			t.Errorf("RemoveNetwork(%q) succeeded", name)
		}
	}
	// A network without apprun's label, made directly on the engine.
	name := "apprun-test-foreign-" + suffix()
	created, err := e.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: testLabels(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cli.NetworkRemove(context.Background(), created.ID, client.NetworkRemoveOptions{}) })
	if err := e.RemoveNetwork(ctx, name); err == nil || !strings.Contains(err.Error(), "not created by apprun") {
		t.Errorf("RemoveNetwork of a foreign network: %v", err)
	}
}

// TestEnsureNetworkOneEngine checks that concurrent calls on one Engine
// (one control plane) all get the same network.
func TestEnsureNetworkOneEngine(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	n := deployer.NetworkSpec{Name: "apprun-test-one-" + suffix(), Labels: testLabels(t)}
	t.Cleanup(func() {
		if err := e.RemoveNetwork(context.Background(), n.Name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ids := make([]string, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			var err error
			if ids[i], err = e.EnsureNetwork(t.Context(), n); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Errorf("call %d got %s, call 0 got %s", i, short(ids[i]), short(ids[0]))
		}
	}
}
