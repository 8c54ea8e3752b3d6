package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// The providers, as they appear in the webhook URL.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Gitea  = "gitea"
)

// Providers lists the supported providers.
func Providers() []string { return []string{GitHub, GitLab, Gitea} }

// KnownProvider reports whether p is a supported provider.
func KnownProvider(p string) bool { return slices.Contains(Providers(), p) }

// MaxBody is the largest webhook body accepted, in bytes: GitHub caps its
// payloads at 25 MB and drops larger ones, so nothing legitimate is bigger.
// The caller bounds its read by it (and answers 413 beyond); Verify refuses
// more as well, so a caller that forgets cannot make it hash gigabytes.
const MaxBody = 25 << 20

var (
	// ErrSignature: the request is not signed with the service's secret
	// (missing, malformed or wrong signature or token). Every Verify
	// failure wraps it.
	ErrSignature = errors.New("webhook signature is not valid")
	// ErrNoSecret: no secret is configured; every webhook is refused.
	ErrNoSecret = fmt.Errorf("no webhook secret configured: %w", ErrSignature)
	// ErrTooLarge: the body is larger than MaxBody.
	ErrTooLarge = fmt.Errorf("webhook body is larger than %d bytes: %w", MaxBody, ErrSignature)
	// ErrUnknownProvider: the provider is not github, gitlab or gitea.
	ErrUnknownProvider = errors.New("unknown webhook provider")
)

// The headers that carry each provider's credential.
const (
	headerGitHubSignature = "X-Hub-Signature-256"
	headerGitLabToken     = "X-Gitlab-Token"
	headerGiteaSignature  = "X-Gitea-Signature"
)

// Verify checks that body was sent by the provider with secret: GitHub's
// X-Hub-Signature-256 ("sha256=" and 64 lowercase hex digits of the
// HMAC-SHA256 of the body), Gitea's X-Gitea-Signature (the same hex digits
// without a prefix) or GitLab's X-Gitlab-Token (the secret itself). The
// result is nil or an error wrapping ErrSignature; the comparison takes
// the same time however much of the signature is right.
func Verify(provider string, h http.Header, body []byte, secret string) error {
	if !KnownProvider(provider) {
		return fmt.Errorf("%w %q", ErrUnknownProvider, provider)
	}
	if secret == "" {
		return ErrNoSecret
	}
	if len(body) > MaxBody {
		return ErrTooLarge
	}
	switch provider {
	case GitLab:
		tok, err := single(h, headerGitLabToken)
		if err != nil {
			return err
		}
		// Comparing digests of equal length keeps the secret's length
		// from leaking through the comparison's timing.
		got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return fmt.Errorf("%s does not match the service's secret: %w", headerGitLabToken, ErrSignature)
		}
		return nil
	case GitHub, Gitea:
		name, prefix := headerGitHubSignature, "sha256="
		if provider == Gitea {
			name, prefix = headerGiteaSignature, ""
		}
		v, err := single(h, name)
		if err != nil {
			return err
		}
		if len(v) < len(prefix) || v[:len(prefix)] != prefix {
			return fmt.Errorf("%s must start with %q: %w", name, prefix, ErrSignature)
		}
		got, ok := lowerHex(v[len(prefix):], sha256.Size)
		if !ok {
			return fmt.Errorf("%s must be %d lowercase hex digits: %w", name, 2*sha256.Size, ErrSignature)
		}
		if !hmac.Equal(got, Sign(body, secret)) {
			return fmt.Errorf("%s does not match the body: %w", name, ErrSignature)
		}
		return nil
	}
	return fmt.Errorf("%w %q", ErrUnknownProvider, provider)
}

// Sign returns the HMAC-SHA256 of body with secret, as GitHub and Gitea
// compute it.
func Sign(body []byte, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// single returns the one value of header name; none, several, or an empty
// one are a rejection (two signatures could otherwise be checked one way
// and trusted another).
func single(h http.Header, name string) (string, error) {
	vs := h.Values(name)
	switch {
	case len(vs) == 0:
		return "", fmt.Errorf("missing %s header: %w", name, ErrSignature)
	case len(vs) > 1:
		return "", fmt.Errorf("%d %s headers, want one: %w", len(vs), name, ErrSignature)
	case vs[0] == "":
		return "", fmt.Errorf("empty %s header: %w", name, ErrSignature)
	}
	return vs[0], nil
}

// lowerHex decodes exactly n bytes written as 2n lowercase hex digits;
// anything else (uppercase, spaces, another length) is refused, since
// every provider sends exactly this form.
func lowerHex(s string, n int) ([]byte, bool) {
	if len(s) != 2*n {
		return nil, false
	}
	out := make([]byte, n)
	for i := range n {
		hi, ok1 := hexDigit(s[2*i])
		lo, ok2 := hexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		out[i] = hi<<4 | lo
	}
	return out, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
