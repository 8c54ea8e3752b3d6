package buildpacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// The buildpacks write the few TOML files of the contract by hand, and read
// back only what they wrote themselves (a layer's metadata) or what the
// bootstrap wrote (buildpack.toml): a TOML library would be the program's
// only dependency outside the standard library.

// tomlQuote returns s as a TOML basic string. It escapes only with the
// escapes TOML and JSON share, so a test (or a reader here) can decode the
// value with encoding/json.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == utf8.RuneError:
			// Invalid UTF-8 cannot be written in TOML; the replacement
			// character keeps the file valid.
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlArray returns ss as a TOML array of basic strings.
func tomlArray(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlQuote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tomlStrings reads the string values of one table of a TOML document:
// lines `key = "value"` under the header [table] (table "" is the top
// level). Values of other kinds, and keys that are not bare, are skipped.
// It reads the files of this package and the lifecycle's re-encoding of
// them, not TOML at large.
func tomlStrings(doc, table string) map[string]string {
	out := map[string]string{}
	current := ""
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			current = strings.TrimSpace(strings.Trim(line, "[]"))
			if strings.HasPrefix(line, "[[") {
				// An array of tables is never a table we read.
				current = "\x00" + current
			}
			continue
		}
		if current != table {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		if !isBareKey(key) || !strings.HasPrefix(value, `"`) {
			continue
		}
		var s string
		if err := json.Unmarshal([]byte(value), &s); err != nil {
			continue
		}
		out[key] = s
	}
	return out
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// layerTypes is the [types] table of a layer's TOML.
type layerTypes struct {
	Launch, Build, Cache bool
}

// launchOnly reports whether the layer is only exported: such a layer is
// reused from the previous image by writing its TOML and no directory.
func (t layerTypes) launchOnly() bool { return t.Launch && !t.Build && !t.Cache }

// layerTOML renders <layers>/<layer>.toml. Metadata values are strings,
// with their keys in sorted order so the file is stable.
func layerTOML(types layerTypes, metadata map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[types]\n  launch = %t\n  build = %t\n  cache = %t\n", types.Launch, types.Build, types.Cache)
	if len(metadata) > 0 {
		b.WriteString("\n[metadata]\n")
		for _, k := range slices.Sorted(maps.Keys(metadata)) {
			fmt.Fprintf(&b, "  %s = %s\n", k, tomlQuote(metadata[k]))
		}
	}
	return b.String()
}

// process is one [[processes]] entry of launch.toml (API 0.9+: command is
// an array, exec'd by the launcher without a shell).
type process struct {
	Type    string
	Command []string
	Default bool
}

// label is one [[labels]] entry of launch.toml.
type label struct {
	Key, Value string
}

// launchTOML renders <layers>/launch.toml.
func launchTOML(procs []process, labels []label) string {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "[[processes]]\n  type = %s\n  command = %s\n  args = []\n  default = %t\n\n",
			tomlQuote(p.Type), tomlArray(p.Command), p.Default)
	}
	for _, l := range labels {
		fmt.Fprintf(&b, "[[labels]]\n  key = %s\n  value = %s\n\n", tomlQuote(l.Key), tomlQuote(l.Value))
	}
	return b.String()
}
