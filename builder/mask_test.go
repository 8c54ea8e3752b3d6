package builder

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// recordWriter keeps each Write separately, to check one Write per line.
type recordWriter struct{ writes []string }

func (r *recordWriter) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recordWriter) String() string { return strings.Join(r.writes, "") }

func TestMaskWriter(t *testing.T) {
	const secret = "s3cr3t-v4lue/with+chars"
	tests := []struct {
		name    string
		secrets []string
		writes  []string
		want    string
	}{
		{"plain", []string{secret}, []string{"token=" + secret + "\n"}, "token=****\n"},
		{"split across writes", []string{secret}, []string{"token=s3cr", "3t-v4l", "ue/with+chars done\n"}, "token=**** done\n"},
		{"twice on a line", []string{secret}, []string{secret + " " + secret + "\n"}, "**** ****\n"},
		{"base64", []string{secret}, []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(secret)) + "\n"}, "Authorization: Basic ****\n"},
		{"raw url base64", []string{secret}, []string{base64.RawURLEncoding.EncodeToString([]byte(secret)) + "\n"}, "****\n"},
		{"url escaped", []string{secret}, []string{"https://x/?t=" + url.QueryEscape(secret) + "\n"}, "https://x/?t=****\n"},
		{"short values are not masked", []string{"abc", "1"}, []string{"abc 1 abcd\n"}, "abc 1 abcd\n"},
		{"unfinished line is flushed", []string{secret}, []string{"no newline " + secret}, "no newline ****\n"},
		{"multi-line secret masked line by line", []string{"-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----"}, []string{"-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----\n"}, "****\n****\n****\n"},
		{"masking completes another secret", []string{"abcd", "x****"}, []string{"xabcd\n"}, "****\n"},
		{"empty lines kept", nil, []string{"a\n\nb\n"}, "a\n\nb\n"},
		{"only stars is not a secret", []string{"*****"}, []string{"*****\n"}, "*****\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out recordWriter
			m := NewMaskWriter(&out, tt.secrets)
			for _, w := range tt.writes {
				if _, err := m.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			for _, w := range out.writes {
				if strings.Count(w, "\n") != 1 || !strings.HasSuffix(w, "\n") {
					t.Errorf("write %q is not exactly one line", w)
				}
			}
		})
	}
}

func TestMaskWriterDropsAfterClose(t *testing.T) {
	var out bytes.Buffer
	m := NewMaskWriter(&out, nil)
	m.Write([]byte("before\n"))
	m.Close()
	if n, err := m.Write([]byte("after\n")); err != nil || n != 6 {
		t.Fatalf("Write after Close = %d, %v; want it accepted and dropped", n, err)
	}
	if out.String() != "before\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestMaskWriterLongLineNeverSplitsASecret(t *testing.T) {
	const secret = "0123456789-secret-value"
	// Place the secret so it straddles the forced cut at every offset
	// near the limit.
	for off := maxLineLen - 40; off < maxLineLen+5; off++ {
		var out bytes.Buffer
		m := NewMaskWriter(&out, []string{secret})
		line := strings.Repeat("x", off) + secret + strings.Repeat("y", maxLineLen)
		for i := 0; i < len(line); i += 4096 {
			m.Write([]byte(line[i:min(i+4096, len(line))]))
		}
		m.Close()
		joined := strings.ReplaceAll(out.String(), "\n", "")
		if strings.Contains(joined, "secret") {
			t.Fatalf("offset %d: part of the secret leaked", off)
		}
		if !strings.Contains(out.String(), Mask) {
			t.Fatalf("offset %d: no mask in the output", off)
		}
	}
}

func FuzzMaskWriter(f *testing.F) {
	f.Add("hunter22", "pass", "my password is hunter22\nand again hunter", uint8(3))
	f.Add("abcd", "x****", "xabcd", uint8(1))
	f.Add("line1\nline2", "zzzz", "line1\nline2\n", uint8(7))
	f.Add("p@ss w0rd", "", "url: p%40ss+w0rd p%40ss%20w0rd", uint8(2))
	f.Fuzz(func(t *testing.T, s1, s2, text string, chunk uint8) {
		secrets := []string{s1, s2}
		var out bytes.Buffer
		m := NewMaskWriter(&out, secrets)
		step := int(chunk%16) + 1
		for i := 0; i < len(text); i += step {
			m.Write([]byte(text[i:min(i+step, len(text))]))
		}
		m.Close()
		got := out.String()
		for _, s := range secrets {
			if !checkable(s) {
				continue
			}
			if strings.Contains(got, s) {
				t.Fatalf("output %q contains secret %q (input %q)", got, s, text)
			}
		}
		if text != "" && !strings.HasSuffix(got, "\n") {
			t.Fatalf("output %q does not end a line", got)
		}
	})
}

// checkable reports whether a secret is one the writer promises to hide:
// every line of it that is long enough is masked, so a secret with such a
// line never appears whole.
func checkable(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if maskable(strings.TrimSuffix(line, "\r")) {
			return true
		}
	}
	return false
}
