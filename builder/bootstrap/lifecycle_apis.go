package bootstrap

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// apiSet is a lifecycle's list of supported API versions (deprecated ones
// included) and the deprecated ones, as lifecycle.toml and the lifecycle
// image's label carry it.
type apiSet struct {
	Deprecated []string `toml:"deprecated" json:"deprecated"`
	Supported  []string `toml:"supported" json:"supported"`
}

// lifecycleAPIs are the Buildpack and Platform API versions a lifecycle
// supports.
type lifecycleAPIs struct {
	Buildpack apiSet `toml:"buildpack" json:"buildpack"`
	Platform  apiSet `toml:"platform" json:"platform"`
}

// parseLifecycleAPIs reads the API versions from the lifecycle's
// api/apis.go, where they are two calls
// `Platform = newApisMustParse(supported, deprecated)` and the same for
// Buildpack. The release packager renders them into lifecycle.toml the same
// way; reading the source keeps LifecycleVersion free to change.
func parseLifecycleAPIs(src []byte) (lifecycleAPIs, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "apis.go", src, 0)
	if err != nil {
		return lifecycleAPIs{}, fmt.Errorf("parsing the lifecycle's api/apis.go: %w", err)
	}
	sets := map[string]*apiSet{}
	var firstErr error
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 {
			return true
		}
		name := vs.Names[0].Name
		if name != "Platform" && name != "Buildpack" {
			return true
		}
		call, ok := vs.Values[0].(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		supported, err1 := stringList(call.Args[0])
		deprecated, err2 := stringList(call.Args[1])
		if err := errors.Join(err1, err2); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("reading %s APIs: %w", name, err)
		}
		sets[name] = &apiSet{Supported: supported, Deprecated: deprecated}
		return true
	})
	if firstErr != nil {
		return lifecycleAPIs{}, firstErr
	}
	if sets["Platform"] == nil || sets["Buildpack"] == nil || len(sets["Platform"].Supported) == 0 || len(sets["Buildpack"].Supported) == 0 {
		return lifecycleAPIs{}, errors.New("the lifecycle's api/apis.go does not declare Platform and Buildpack API versions")
	}
	return lifecycleAPIs{Buildpack: *sets["Buildpack"], Platform: *sets["Platform"]}, nil
}

// stringList reads a []string{"a", "b"} literal.
func stringList(e ast.Expr) ([]string, error) {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, errors.New("not a []string literal")
	}
	out := []string{}
	for _, el := range lit.Elts {
		bl, ok := el.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return nil, errors.New("not a string literal")
		}
		s, err := strconv.Unquote(bl.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// lifecycleDescriptor is lifecycle.toml for the tarball: the APIs, the
// minimum APIs in the older [api] form pack still reads, and the version.
func lifecycleDescriptor(version string, apis lifecycleAPIs) string {
	list := func(l []string) string {
		q := make([]string, len(l))
		for i, s := range l {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[apis]\n[apis.buildpack]\n  deprecated = %s\n  supported = %s\n", list(apis.Buildpack.Deprecated), list(apis.Buildpack.Supported))
	fmt.Fprintf(&b, "[apis.platform]\n  deprecated = %s\n  supported = %s\n\n", list(apis.Platform.Deprecated), list(apis.Platform.Supported))
	fmt.Fprintf(&b, "[api]\n  platform = %s\n  buildpack = %s\n\n", strconv.Quote(apis.Platform.Supported[0]), strconv.Quote(apis.Buildpack.Supported[0]))
	fmt.Fprintf(&b, "[lifecycle]\n  version = %s\n", strconv.Quote(version))
	return b.String()
}

// descriptor is what the lifecycle image's labels need of lifecycle.toml.
type descriptor struct {
	APIs      lifecycleAPIs `toml:"apis"`
	Lifecycle struct {
		Version string `toml:"version"`
	} `toml:"lifecycle"`
}

// readDescriptor reads lifecycle.toml from a lifecycle tarball.
func readDescriptor(tgz string) (descriptor, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return descriptor{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return descriptor{}, fmt.Errorf("reading %s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return descriptor{}, errNoDescriptor
		}
		if err != nil {
			return descriptor{}, fmt.Errorf("reading %s: %w", tgz, err)
		}
		if hdr.Name != "lifecycle.toml" {
			continue
		}
		var d descriptor
		if _, err := toml.NewDecoder(tr).Decode(&d); err != nil {
			return descriptor{}, fmt.Errorf("reading lifecycle.toml: %w", err)
		}
		if d.Lifecycle.Version == "" || len(d.APIs.Buildpack.Supported) == 0 || len(d.APIs.Platform.Supported) == 0 {
			return descriptor{}, errors.New("lifecycle.toml lacks the version or the APIs")
		}
		return d, nil
	}
}

// lifecycleImageLabels are the labels pack reads from a lifecycle image, as
// the lifecycle's own image tool writes them.
func lifecycleImageLabels(d descriptor) (map[string]string, error) {
	apis, err := json.Marshal(d.APIs)
	if err != nil {
		return nil, err
	}
	legacy, err := json.Marshal(map[string]any{
		"lifecycle": map[string]string{"version": d.Lifecycle.Version},
		"api": map[string]string{
			"buildpack": d.APIs.Buildpack.Supported[0],
			"platform":  d.APIs.Platform.Supported[0],
		},
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"io.buildpacks.lifecycle.version": d.Lifecycle.Version,
		"io.buildpacks.lifecycle.apis":    string(apis),
		"io.buildpacks.builder.metadata":  string(legacy),
	}, nil
}
