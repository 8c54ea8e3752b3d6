package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Procfile limits, which bound the work and the number of containers a
// pushed Procfile can ask for.
const (
	MaxProcfileSize = 64 << 10
	MaxProcessTypes = 100
)

// processTypeRE is the shape of a process type in a Procfile: Heroku's
// characters, starting with a letter or digit so that it can never be read
// as an option, and short enough for a container name.
var processTypeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// ParseProcfile parses a Procfile in Heroku's format: one "type: command"
// per line, with blank lines and lines starting with '#' ignored. Types keep
// the case they are written in, but two that differ only in case are
// refused, since they would collide in container and DNS names. The
// processes come back in file order.
//
// On failure the error is Problems, each with its line and the field
// "processes.<type>" or, when the line names no usable type, "line <n>".
func ParseProcfile(data []byte) ([]Process, error) {
	if len(data) > MaxProcfileSize {
		return nil, Problems{{Field: "Procfile", Message: fmt.Sprintf("is %d bytes; the limit is %d", len(data), MaxProcfileSize)}}
	}
	var (
		ps    Problems
		procs []Process
		seen  = map[string]int{} // lowercased type → line
	)
	text := strings.TrimPrefix(string(data), "\uFEFF")
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		lineField := fmt.Sprintf("line %d", n)
		line = strings.TrimSuffix(line, "\r")
		if msg := procfileLineError(line); msg != "" {
			ps = append(ps, Problem{Field: lineField, Line: n, Message: msg})
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		typ, cmd, ok := strings.Cut(line, ":")
		if !ok {
			ps = append(ps, Problem{Field: lineField, Line: n, Message: `expected "type: command"`})
			continue
		}
		if !processTypeRE.MatchString(typ) {
			ps = append(ps, Problem{Field: lineField, Line: n, Message: fmt.Sprintf("process type %q must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit", typ)})
			continue
		}
		field := "processes." + typ
		key := strings.ToLower(typ)
		if first, dup := seen[key]; dup {
			ps = append(ps, Problem{Field: field, Line: n, Message: fmt.Sprintf("process type %q is already declared on line %d", typ, first)})
			continue
		}
		seen[key] = n
		if len(seen) == MaxProcessTypes+1 {
			ps = append(ps, Problem{Field: "Procfile", Line: n, Message: fmt.Sprintf("declares more than %d process types", MaxProcessTypes)})
		}
		cmd = strings.TrimSpace(cmd)
		if cmd == "" {
			ps = append(ps, Problem{Field: field, Line: n, Message: "has an empty command"})
			continue
		}
		procs = append(procs, Process{Type: typ, Command: cmd})
	}
	if len(seen) == 0 && len(ps) == 0 {
		ps = append(ps, Problem{Field: "Procfile", Message: "declares no process types"})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return procs, nil
}

// procfileLineError says why a line cannot be in a Procfile, or "". Control
// characters would end up in a shell command line, where they only hide
// what the command does.
func procfileLineError(line string) string {
	for _, r := range line {
		switch {
		case r == 0:
			return "must not contain a NUL byte"
		case (r < 0x20 && r != '\t') || r == 0x7f:
			return fmt.Sprintf("must not contain the control character %U", r)
		}
	}
	return ""
}

// ValidateProcessType checks a process type named outside a Procfile (in
// `apprun scale`, say) by the Procfile's own rule.
func ValidateProcessType(s string) error {
	if !processTypeRE.MatchString(s) {
		return fmt.Errorf("process type %q must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit", s)
	}
	return nil
}
