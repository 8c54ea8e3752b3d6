package store

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

func TestTokens(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	if n, err := s.CountTokens(ctx); err != nil || n != 0 {
		t.Fatalf("CountTokens on a new store = %d, %v", n, err)
	}
	plain, tok, err := s.CreateToken(ctx, "admin")
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if !regexp.MustCompile(`^apprun_[a-z2-7]{52}$`).MatchString(plain) {
		t.Errorf("plain token %q has the wrong shape", plain)
	}
	if tok.Name != "admin" || !idRE.MatchString(tok.ID) || !tok.CreatedAt.Equal(clock.t) || tok.LastUsedAt != nil {
		t.Errorf("token = %+v", tok)
	}
	clock.advance(time.Second)
	plain2, _, _ := s.CreateToken(ctx, "ci")
	if plain2 == plain {
		t.Fatal("two tokens are equal")
	}

	// Only the hash is stored.
	if strings.Contains(dump(t, s), strings.TrimPrefix(plain, TokenPrefix)) {
		t.Errorf("the plain token is in the database")
	}
	var hash string
	s.r.QueryRowContext(ctx, `SELECT hash FROM tokens WHERE id = ?`, tok.ID).Scan(&hash)
	if hash != hashToken(plain) || len(hash) != 64 {
		t.Errorf("stored hash %q, want sha256 hex of the token", hash)
	}

	got, err := s.VerifyToken(ctx, plain)
	if err != nil || got.ID != tok.ID {
		t.Fatalf("VerifyToken = %+v, %v", got, err)
	}
	for what, bad := range map[string]string{
		"empty":       "",
		"no prefix":   strings.TrimPrefix(plain, TokenPrefix),
		"short":       plain[:len(plain)-1],
		"long":        plain + "a",
		"upper case":  TokenPrefix + strings.ToUpper(strings.TrimPrefix(plain, TokenPrefix)),
		"not base32":  plain[:len(plain)-1] + "1",
		"unknown":     TokenPrefix + strings.Repeat("a", tokenChars),
		"bearer form": "Bearer " + plain,
	} {
		t.Run(what, func(t *testing.T) {
			_, err := s.VerifyToken(ctx, bad)
			wantErr(t, err, spec.ErrUnauthorized)
		})
	}

	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "admin" || list[1].Name != "ci" {
		t.Errorf("ListTokens = %+v, %v", list, err)
	}
	if n, _ := s.CountTokens(ctx); n != 2 {
		t.Errorf("CountTokens = %d", n)
	}

	if err := s.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.VerifyToken(ctx, plain)
	wantErr(t, err, spec.ErrUnauthorized)
	wantErr(t, s.DeleteToken(ctx, tok.ID), spec.ErrNotFound)
	if _, err := s.VerifyToken(ctx, plain2); err != nil {
		t.Errorf("the other token stopped working: %v", err)
	}

	for _, name := range []string{"", "  ", strings.Repeat("n", 101), "a\nb"} {
		_, _, err := s.CreateToken(ctx, name)
		wantProblem(t, err, "name", "")
	}
}

// TestTokenLastUsed: last_used_at is written on first use and then at most
// once a minute, so a busy client does not cost a write per request.
func TestTokenLastUsed(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	plain, _, _ := s.CreateToken(ctx, "admin")
	stored := func() *time.Time {
		toks, _ := s.ListTokens(ctx)
		return toks[0].LastUsedAt
	}
	first := clock.t
	tok, _ := s.VerifyToken(ctx, plain)
	if tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(first) || !stored().Equal(first) {
		t.Fatalf("after first use: returned %v, stored %v; want %v", tok.LastUsedAt, stored(), first)
	}
	clock.advance(59 * time.Second)
	tok, _ = s.VerifyToken(ctx, plain)
	if !stored().Equal(first) || !tok.LastUsedAt.Equal(first) {
		t.Errorf("written again within a minute: stored %v", stored())
	}
	clock.advance(time.Second)
	tok, _ = s.VerifyToken(ctx, plain)
	if !stored().Equal(clock.t) || !tok.LastUsedAt.Equal(clock.t) {
		t.Errorf("not written after a minute: stored %v, want %v", stored(), clock.t)
	}
}
