package store

import (
	"errors"
	"testing"

	"github.com/apprun/apprun/spec"
)

func TestKeys(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	k, err := s.AddKey(ctx, spec.SSHKey{Name: "laptop", Fingerprint: "SHA256:abc", PublicKey: "ssh-ed25519 AAAAC3 me@laptop"})
	if err != nil || k.ID == "" {
		t.Fatalf("AddKey: %+v %v", k, err)
	}
	before := dump(t, s)
	for _, bad := range []spec.SSHKey{
		{Name: "again", Fingerprint: "SHA256:abc", PublicKey: "ssh-ed25519 AAAAC3"},
		{Name: "", Fingerprint: "SHA256:x", PublicKey: "ssh-ed25519 AAAAC3"},
		{Name: "md5", Fingerprint: "MD5:x", PublicKey: "ssh-ed25519 AAAAC3"},
		{Name: "two lines", Fingerprint: "SHA256:y", PublicKey: "ssh-ed25519 AAAAC3\nssh-rsa B"},
	} {
		if _, err := s.AddKey(ctx, bad); err == nil {
			t.Errorf("AddKey(%+v) succeeded", bad)
		}
	}
	if after := dump(t, s); after != before {
		t.Errorf("a refused AddKey changed the store")
	}
	got, err := s.KeyByFingerprint(ctx, "SHA256:abc")
	if err != nil || got.ID != k.ID {
		t.Fatalf("KeyByFingerprint: %+v %v", got, err)
	}
	if _, err := s.KeyByFingerprint(ctx, "SHA256:nope"); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("unknown fingerprint: %v", err)
	}
	if ks, _ := s.ListKeys(ctx); len(ks) != 1 {
		t.Errorf("ListKeys: %v", ks)
	}
	if err := s.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, k.ID); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

func TestWebhookSecretAndDeliveries(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if _, err := s.CreateService(ctx, spec.NewService("web"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebhookSecret(ctx, "web"); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("no secret set: %v", err)
	}
	if err := s.SetWebhookSecret(ctx, "web", "short"); err == nil {
		t.Error("a short secret was accepted")
	}
	for _, v := range []string{"It's a Secret to Everybody", "another secret, longer"} {
		if err := s.SetWebhookSecret(ctx, "web", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.WebhookSecret(ctx, "web"); err != nil || got != v {
			t.Errorf("WebhookSecret = %q, %v", got, err)
		}
	}
	// The secret is not among the service's secrets (never injected).
	if sec, _ := s.ServiceSecrets(ctx, "web"); len(sec) != 0 {
		t.Errorf("the webhook secret leaked into the service's secrets: %v", sec)
	}
	first, err := s.RecordDelivery(ctx, "web", "github", "d-1")
	if err != nil || !first {
		t.Fatalf("first delivery: %v %v", first, err)
	}
	if first, _ := s.RecordDelivery(ctx, "web", "github", "d-1"); first {
		t.Error("a redelivery counted as first")
	}
	if first, _ := s.RecordDelivery(ctx, "web", "gitlab", "d-1"); !first {
		t.Error("the same ID from another provider is a different delivery")
	}
	if _, err := s.RecordDelivery(ctx, "nope", "github", "d-2"); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("unknown service: %v", err)
	}
	if err := s.DeleteService(ctx, "web"); err != nil {
		t.Fatal(err)
	}
}
