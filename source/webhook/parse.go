package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/apprun/apprun/spec"
)

// Event is what a verified webhook says: which delivery it is and, for a
// push, which commit is now at the head of which ref.
type Event struct {
	Provider string `json:"provider"`
	// DeliveryID identifies the delivery; a redelivery carries the same
	// one, which is how duplicates are told.
	DeliveryID string `json:"deliveryId"`
	// EventType is "push" or "ping" (GitHub's test event, answered without
	// deploying).
	EventType string `json:"eventType"`
	// Ref is the full ref pushed ("refs/heads/main", "refs/tags/v1").
	Ref string `json:"ref,omitempty"`
	// Branch is Ref without "refs/heads/", and "" when Ref is not a branch
	// (a tag push, which deploys nothing).
	Branch string `json:"branch,omitempty"`
	// Commit is the new head: 40 lowercase hex digits; "" when Deleted.
	Commit string `json:"commit,omitempty"`
	// RepoURL is the repository's clone URL as the provider reports it.
	// It is informational: a deployment fetches from the service's own
	// source.repo, never from a URL the request names.
	RepoURL string `json:"repoUrl,omitempty"`
	// Deleted is true when the push deleted the ref.
	Deleted bool `json:"deleted,omitempty"`
}

// Event types.
const (
	EventPush = "push"
	EventPing = "ping"
)

// Ping reports whether the event is a provider's test delivery.
func (e Event) Ping() bool { return e.EventType == EventPing }

var (
	// ErrEvent: the event type is not one apprun handles (only pushes and
	// pings are).
	ErrEvent = errors.New("unsupported webhook event")
	// ErrPayload: the headers or the body are malformed.
	ErrPayload = errors.New("malformed webhook payload")
)

// The headers that name the event and the delivery.
const (
	headerGitHubEvent    = "X-GitHub-Event"
	headerGitHubDelivery = "X-GitHub-Delivery"
	headerGitLabEvent    = "X-Gitlab-Event"
	headerGitLabUUID     = "X-Gitlab-Event-UUID"
	headerIdempotencyKey = "Idempotency-Key"
	headerGiteaEvent     = "X-Gitea-Event"
	headerGiteaDelivery  = "X-Gitea-Delivery"
)

// zeroCommit is what providers send as the new head of a deleted ref.
const zeroCommit = "0000000000000000000000000000000000000000"

// payload is the union of the three providers' push payloads, as far as
// apprun reads them.
type payload struct {
	ObjectKind  string  `json:"object_kind"` // GitLab: "push"
	Ref         *string `json:"ref"`
	After       *string `json:"after"`
	CheckoutSHA *string `json:"checkout_sha"` // GitLab: null when deleted
	Deleted     bool    `json:"deleted"`      // GitHub
	Repository  struct {
		CloneURL   string `json:"clone_url"`    // GitHub, Gitea
		GitHTTPURL string `json:"git_http_url"` // GitLab
	} `json:"repository"`
	Project struct {
		GitHTTPURL string `json:"git_http_url"` // GitLab
	} `json:"project"`
}

// Parse reads a webhook Verify accepted. It returns an error wrapping
// ErrEvent for an event other than a push or a ping, and ErrPayload for
// malformed headers or body: a ref that is not a valid ref, a commit that
// is not 40 hex digits, control characters anywhere.
func Parse(provider string, h http.Header, body []byte) (Event, error) {
	ev := Event{Provider: provider}
	var eventHeader, want string
	var delivery []string
	switch provider {
	case GitHub:
		eventHeader, want, delivery = headerGitHubEvent, "push", []string{headerGitHubDelivery}
	case GitLab:
		eventHeader, want, delivery = headerGitLabEvent, "Push Hook", []string{headerGitLabUUID, headerIdempotencyKey}
	case Gitea:
		eventHeader, want, delivery = headerGiteaEvent, "push", []string{headerGiteaDelivery}
	default:
		return ev, fmt.Errorf("%w %q", ErrUnknownProvider, provider)
	}
	if len(body) > MaxBody {
		return ev, fmt.Errorf("body larger than %d bytes: %w", MaxBody, ErrPayload)
	}
	for _, name := range delivery {
		if v := h.Get(name); v != "" {
			ev.DeliveryID = v
			break
		}
	}
	if err := checkDeliveryID(ev.DeliveryID); err != nil {
		return ev, fmt.Errorf("%s: %w", delivery[0], err)
	}
	typ := h.Get(eventHeader)
	switch {
	case typ == "":
		return ev, fmt.Errorf("missing %s header: %w", eventHeader, ErrPayload)
	case provider == GitHub && typ == EventPing:
		ev.EventType = EventPing
		if !json.Valid(body) || !isObject(body) {
			return ev, fmt.Errorf("the ping body is not a JSON object: %w", ErrPayload)
		}
		return ev, nil
	case typ != want:
		return ev, fmt.Errorf("%s %q: only %q events deploy: %w", eventHeader, clip(typ), want, ErrEvent)
	}
	ev.EventType = EventPush

	var p payload
	if !isObject(body) {
		if strings.HasPrefix(h.Get("Content-Type"), "application/x-www-form-urlencoded") {
			return ev, fmt.Errorf("the body is form-encoded: set the webhook's content type to application/json: %w", ErrPayload)
		}
		return ev, fmt.Errorf("the body is not a JSON object: %w", ErrPayload)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return ev, fmt.Errorf("the body is not a push payload (%v): %w", err, ErrPayload)
	}
	if provider == GitLab && p.ObjectKind != "" && p.ObjectKind != "push" {
		return ev, fmt.Errorf("object_kind %q is not a push: %w", clip(p.ObjectKind), ErrEvent)
	}
	if p.Ref == nil || p.After == nil {
		return ev, fmt.Errorf("the push has no ref or no after commit: %w", ErrPayload)
	}
	if err := checkRef(*p.Ref); err != nil {
		return ev, err
	}
	ev.Ref = *p.Ref
	if b, ok := strings.CutPrefix(ev.Ref, "refs/heads/"); ok {
		if err := spec.ValidateBranch(b); err != nil {
			return ev, fmt.Errorf("branch: %v: %w", err, ErrPayload)
		}
		ev.Branch = b
	}
	after := *p.After
	switch {
	case p.Deleted || after == zeroCommit:
		ev.Deleted = true
	case !isCommit(after):
		return ev, fmt.Errorf("after %q is not a commit (40 lowercase hex digits): %w", clip(after), ErrPayload)
	default:
		ev.Commit = after
	}
	if provider == GitLab && p.CheckoutSHA != nil && *p.CheckoutSHA != "" && !ev.Deleted && *p.CheckoutSHA != ev.Commit {
		// A branch push's checkout_sha is its after commit; a mismatch
		// means the payload is not what it claims.
		return ev, fmt.Errorf("checkout_sha and after differ: %w", ErrPayload)
	}
	ev.RepoURL = p.Repository.CloneURL
	if provider == GitLab {
		ev.RepoURL = firstNonEmpty(p.Project.GitHTTPURL, p.Repository.GitHTTPURL)
	}
	if len(ev.RepoURL) > 2048 || hasControl(ev.RepoURL) {
		return ev, fmt.Errorf("the repository URL is not printable: %w", ErrPayload)
	}
	return ev, nil
}

// checkDeliveryID bounds what is later stored and logged.
func checkDeliveryID(id string) error {
	if id == "" || len(id) > 200 {
		return fmt.Errorf("a delivery ID of 1 to 200 characters is required: %w", ErrPayload)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("the delivery ID must be printable ASCII without spaces: %w", ErrPayload)
		}
	}
	return nil
}

// checkRef accepts a full ref name ("refs/…") of printable characters.
func checkRef(ref string) error {
	switch {
	case !strings.HasPrefix(ref, "refs/") || len(ref) > 300:
		return fmt.Errorf("ref %q is not a full ref name (refs/…): %w", clip(ref), ErrPayload)
	case hasControl(ref) || strings.ContainsAny(ref, " \\"):
		return fmt.Errorf("ref %q contains characters a ref cannot: %w", clip(ref), ErrPayload)
	case strings.Contains(ref, ".."), strings.Contains(ref, "//"), strings.HasSuffix(ref, "/"):
		return fmt.Errorf("ref %q is not a valid ref name: %w", clip(ref), ErrPayload)
	}
	return nil
}

// isCommit reports whether s is a full SHA-1 object name.
func isCommit(s string) bool {
	_, ok := lowerHex(s, 20)
	return ok
}

func isObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// clip bounds input quoted in error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
