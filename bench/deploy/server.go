package main

// This file sets up what the deployments run on: the bridge network that
// apprun's instances and the floor's containers share, and the server
// (started by bench/internal/harness) with the benchmark's service.

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/apprun/apprun/bench/internal/harness"
	"github.com/apprun/apprun/spec"
)

// service is the name of the benchmark's service; the router answers for
// it at Host service+".localhost".
const service = "bench-go"

// startServer makes the network, starts the server deploying to it,
// follows the engine's events of its containers and creates the service.
func (b *bench) startServer(ctx context.Context, bin string) error {
	if err := b.makeNetwork(ctx); err != nil {
		return err
	}
	srv, err := harness.Start(ctx, harness.Options{Work: b.work, Bin: bin, Network: b.network, Progress: os.Stderr})
	if err != nil {
		return err
	}
	b.srv = srv
	if b.events, err = watchEvents(srv.Installation); err != nil {
		return err
	}
	var svc spec.Service
	if err := b.srv.Call(ctx, http.MethodPost, "/api/v1/services", map[string]any{"name": service}, &svc); err != nil {
		return fmt.Errorf("creating the service: %w", err)
	}
	b.svcID = svc.ID
	return nil
}

// makeNetwork creates the bridge network both apprun's instances and the
// floor's containers run on. Static IPs need a subnet given at creation, so
// the engine picks a free one first (a throwaway network), and the real
// network takes it with dynamic addresses (apprun's) limited to its lower
// half; the floor's containers get static addresses in the upper half.
func (b *bench) makeNetwork(ctx context.Context) error {
	b.network = fmt.Sprintf("apprun-bench-deploy-%d", b.pid)
	if out, err := harness.Docker(ctx, "network", "create", b.network); err != nil {
		return fmt.Errorf("creating a network: %v: %s", err, out)
	}
	out, err := harness.Docker(ctx, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", b.network)
	_, _ = harness.Docker(context.WithoutCancel(ctx), "network", "rm", b.network)
	if err != nil {
		return fmt.Errorf("inspecting the network: %v: %s", err, out)
	}
	for f := range strings.FieldsSeq(string(out)) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Is4() && p.Bits() <= 23 {
			b.subnet = p.Masked()
			break
		}
	}
	if !b.subnet.IsValid() {
		return fmt.Errorf("the engine gave the network no IPv4 subnet of /23 or larger (%q)", strings.TrimSpace(string(out)))
	}
	lower := netip.PrefixFrom(b.subnet.Addr(), b.subnet.Bits()+1)
	if out, err := harness.Docker(ctx, "network", "create", "--subnet", b.subnet.String(), "--ip-range", lower.String(),
		"-o", "com.docker.network.bridge.enable_icc=false", b.network); err != nil {
		b.network = ""
		return fmt.Errorf("creating network %s: %v: %s", b.subnet, err, out)
	}
	return nil
}

// revisions lists the service's revisions, newest first.
func (b *bench) revisions(ctx context.Context) ([]spec.Revision, error) {
	var revs struct {
		Revisions []spec.Revision `json:"revisions"`
	}
	err := b.srv.Call(ctx, http.MethodGet, "/api/v1/services/"+service+"/revisions", nil, &revs)
	return revs.Revisions, err
}

// revisionImage is the image of one of the service's revisions.
func (b *bench) revisionImage(ctx context.Context, id string) (string, error) {
	revs, err := b.revisions(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range revs {
		if r.ID == id {
			if r.Image == "" {
				return "", fmt.Errorf("revision %s has no image", id)
			}
			return r.Image, nil
		}
	}
	return "", fmt.Errorf("revision %s is not listed", id)
}
