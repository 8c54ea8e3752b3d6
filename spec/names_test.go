package spec

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when valid, else part of the message
	}{
		{"a", ""},
		{"app", ""},
		{"my-app-2", ""},
		{"a" + strings.Repeat("b", 62), ""},
		{"a" + strings.Repeat("b", 63), "at most 63 characters, got 64"},
		{"", "must not be empty"},
		{"1app", "is not a DNS label"},
		{"-app", "is not a DNS label"},
		{"app-", "must not end with '-'"},
		{"App", "is not a DNS label"},
		{"my_app", "is not a DNS label"},
		{"my.app", "is not a DNS label"},
		{"my app", "is not a DNS label"},
		{"appé", "is not a DNS label"},
		{"аpp", "is not a DNS label"}, // a Cyrillic а
		{"app\n", "is not a DNS label"},
	}
	for _, tt := range tests {
		checkValidation(t, "ValidateName", tt.in, ValidateName(tt.in), tt.want)
	}
}

func TestValidateHostname(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app.example.com", ""},
		{"example.io", ""},
		{"a-b.c-d.example", ""},
		{"xn--bcher-kva.example", ""},
		{strings.Repeat("a", 63) + ".com", ""},
		{strings.Repeat("a", 64) + ".com", "is not a DNS label"},
		{strings.Repeat("a.", 126) + "com", "at most 253 characters"},
		{"", "must not be empty"},
		{"localhost", "at least two labels"},
		{"App.example.com", "must be lowercase"},
		{"app.example.com.", "is not a DNS label"},
		{"*.example.com", "is not a DNS label"},
		{"app.example.com:443", "is not a DNS label"},
		{"-app.example.com", "is not a DNS label"},
		{"app-.example.com", "is not a DNS label"},
		{"a..example.com", "is not a DNS label"},
		{"bücher.example", "is not a DNS label"},
		{"app_1.example.com", "is not a DNS label"},
		{"app example.com", "is not a DNS label"},
		{"10.0.0.1", "numeric"},
		{"app.123", "numeric"},
	}
	for _, tt := range tests {
		checkValidation(t, "ValidateHostname", tt.in, ValidateHostname(tt.in), tt.want)
	}
}

func TestValidateEnvName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PORT", ""},
		{"_x1", ""},
		{"lower_case", ""},
		{strings.Repeat("A", 255), ""},
		{strings.Repeat("A", 256), "at most 255"},
		{"", "is not an environment variable name"},
		{"1A", "is not an environment variable name"},
		{"A-B", "is not an environment variable name"},
		{"A=B", "is not an environment variable name"},
		{"É", "is not an environment variable name"},
	}
	for _, tt := range tests {
		checkValidation(t, "ValidateEnvName", tt.in, ValidateEnvName(tt.in), tt.want)
	}
}

func TestValidateBranch(t *testing.T) {
	tests := []struct{ in, want string }{
		{"main", ""},
		{"feature/login", ""},
		{"release-1.2", ""},
		{"fünf", ""},
		{"a/b/c", ""},
		{strings.Repeat("b", 255), ""},
		{strings.Repeat("b", 256), "at most 255"},
		{"", "must not be empty"},
		{"--upload-pack=x", "is not a valid branch name"},
		{"-b", "is not a valid branch name"},
		{"/main", "is not a valid branch name"},
		{"main/", "is not a valid branch name"},
		{"main.", "is not a valid branch name"},
		{"main.lock", "is not a valid branch name"},
		{"a..b", "is not a valid branch name"},
		{"a//b", "is not a valid branch name"},
		{"a@{1}", "is not a valid branch name"},
		{"@", "is not a valid branch name"},
		{".hidden", "is not a valid branch name"},
		{"a.lock/b", "is not a valid branch name"},
		{"a/.b", "is not a valid branch name"},
		{"HEAD", "is not a valid branch name"},
		{"a/.hidden", "is not a valid branch name"},
		{"a b", "' ' is not allowed"},
		{"a~1", "'~' is not allowed"},
		{"a^1", "'^' is not allowed"},
		{"a:b", "':' is not allowed"},
		{"a?", "'?' is not allowed"},
		{"a*", "'*' is not allowed"},
		{"a[1]", "'[' is not allowed"},
		{`a\b`, `'\\' is not allowed`},
		{"a\x7f", `'\x7f' is not allowed`},
		{"a\nb", `'\n' is not allowed`},
		{"a\x00b", `'\x00' is not allowed`},
	}
	for _, tt := range tests {
		checkValidation(t, "ValidateBranch", tt.in, ValidateBranch(tt.in), tt.want)
	}
}

// checkValidation checks that err is nil when want is empty, and otherwise
// an error whose message contains want.
func checkValidation(t *testing.T, fn, in string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s(%.70q) = %v, want nil", fn, in, err)
	case want != "" && err == nil:
		t.Errorf("%s(%.70q) = nil, want an error containing %q", fn, in, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s(%.70q) = %q, want it to contain %q", fn, in, err, want)
	}
}
