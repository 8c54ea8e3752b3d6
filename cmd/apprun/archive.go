package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/apprun/apprun/internal/tarball"
	"github.com/apprun/apprun/spec"
)

// Uploading a directory (`apprun build`, `apprun deploy`) and following the
// server's NDJSON answer are shared by the commands that do it, so they
// pack and read the same way.

// sourceDir returns the absolute path of the directory argument (default
// "."), checking that it is a directory.
func sourceDir(args []string) (string, error) {
	dir := "."
	if len(args) > 0 {
		dir = args[0]
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", usageErrorf("%s is not a directory", dir)
	}
	return abs, nil
}

// packDir returns dir as apprun uploads it (see internal/tarball).
func packDir(dir string) ([]byte, error) { return tarball.Pack(dir) }

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// dirLabel is a directory's name lowercased, with each run of characters a
// DNS label cannot hold made one '-' ("My_App" → "my-app"). It may still
// not be a valid name (empty, or starting with a digit).
func dirLabel(dir string) string {
	s := nonLabel.ReplaceAllString(strings.ToLower(filepath.Base(dir)), "-")
	return strings.Trim(s, "-")
}

// labelFromDir makes an image name from a directory's name, always: a name
// that cannot start a label gets an "app-" prefix.
func labelFromDir(dir string) string {
	s := dirLabel(dir)
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "app-" + s
	}
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// serviceFromDir makes a service name from a directory's name. Unlike an
// image name, a service name is public (it is the URL), so one that would
// need inventing is refused with a request to name it instead.
func serviceFromDir(dir string) (string, error) {
	s := dirLabel(dir)
	if err := spec.ValidateName(s); err != nil {
		return "", usageErrorf("cannot make a service name from the directory name %q (%v): name the service with --service NAME", filepath.Base(dir), err)
	}
	return s, nil
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// readNDJSON calls fn with each line of an NDJSON stream as it arrives,
// until fn says it is done or the stream ends. what names the stream in
// errors ("deployment").
func readNDJSON(r io.Reader, what string, fn func(line []byte) (done bool, err error)) error {
	sc := bufio.NewScanner(r)
	// A log line is at most 64 KiB (the server cuts longer ones); JSON
	// escaping can double it.
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		done, err := fn(sc.Bytes())
		if err != nil || done {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the %s stream: %w", what, err)
	}
	return nil
}
