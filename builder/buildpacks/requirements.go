package buildpacks

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// MaxRequirements bounds the requirements.txt and pyproject.toml a build
// reads.
const MaxRequirements = 1 << 20

// pythonRequirements returns the app's requirement entries: the lines of
// requirements.txt, or else the dependencies of pyproject.toml's
// [project] table.
func pythonRequirements(app fs.FS) ([]string, error) {
	for _, f := range []string{"requirements.txt", "pyproject.toml"} {
		data, err := fs.ReadFile(app, f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		if len(data) > MaxRequirements {
			return nil, fmt.Errorf("%s is %d bytes; the limit is %d", f, len(data), MaxRequirements)
		}
		if f == "requirements.txt" {
			return parseRequirements(string(data)), nil
		}
		return pyprojectDependencies(string(data)), nil
	}
	return nil, nil
}

// parseRequirements returns the entries of a pip requirements file: every
// line that is not blank or a comment, with continuations joined.
func parseRequirements(text string) []string {
	var entries []string
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\\\n", "")
	for _, line := range strings.Split(text, "\n") {
		if i := commentStart(line); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			entries = append(entries, line)
		}
	}
	return entries
}

// commentStart returns where a pip comment starts: a '#' at the start of
// the line or after a blank (a '#' inside a URL fragment is not one).
func commentStart(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return i
		}
	}
	return -1
}

var requirementNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*`)

// requirementNames returns the normalized project names (PEP 503: lower
// case, runs of -_. as -) of requirement entries; options such as -r and
// -e, and URLs, name none.
func requirementNames(entries []string) []string {
	var names []string
	for _, e := range entries {
		n := requirementNameRE.FindString(e)
		if n == "" || strings.Contains(e, "://") {
			continue
		}
		n = strings.ToLower(n)
		n = strings.NewReplacer("_", "-", ".", "-").Replace(n)
		names = append(names, n)
	}
	return names
}

// pyprojectDependencies returns the strings of the dependencies array of
// pyproject.toml's [project] table. It reads that one key of the TOML
// grammar: an array of quoted strings, which may span lines and hold
// comments.
func pyprojectDependencies(text string) []string {
	table := ""
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			table = strings.TrimSpace(strings.Trim(trimmed, "[] \t"))
			continue
		}
		key, value, ok := strings.Cut(trimmed, "=")
		if table != "project" || !ok || strings.TrimSpace(key) != "dependencies" {
			continue
		}
		rest := strings.TrimSpace(value) + "\n" + strings.Join(lines[i+1:], "\n")
		if !strings.HasPrefix(rest, "[") {
			return nil
		}
		return scanStringArray(rest[1:])
	}
	return nil
}

// scanStringArray reads quoted strings (basic or literal) up to the ']'
// that closes an array, skipping commas, blanks and comments. A string that
// does not close ends the scan.
func scanStringArray(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ']':
			return out
		case '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case '"', '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c && s[j] != '\n'; j++ {
				if c == '"' && s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) || s[j] != c {
				return out
			}
			out = append(out, b.String())
			i = j
		}
	}
	return out
}
