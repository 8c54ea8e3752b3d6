package buildpacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// The static server is the web process of a static site: the static-server
// mode of this program, copied into a launch layer. It serves files under
// one root and nothing else: no directory listings, no dotfiles (but
// .well-known), no path that leaves the root (os.Root also refuses symlinks
// that point out of it), and a 404 page (404.html when the site has one).

// shutdownGrace is how long the static server lets requests in flight
// finish after SIGTERM.
const shutdownGrace = 20 * time.Second

// RunStaticServer runs the static server until ctx ends (SIGTERM), then
// shuts it down gracefully. Flags: --root DIR (default "."), --port PORT
// (default $PORT, else 8080), --host HOST (default all interfaces).
func RunStaticServer(ctx context.Context, args, environ []string, logw io.Writer) error {
	flags := flag.NewFlagSet(string(ModeStaticServer), flag.ContinueOnError)
	flags.SetOutput(logw)
	root := flags.String("root", ".", "directory to serve")
	port := flags.String("port", "", "port to listen on (default $PORT, else 8080)")
	host := flags.String("host", "", "address to listen on (default all interfaces)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *port == "" {
		*port, _ = lookupEnv(environ, "PORT")
	}
	if *port == "" {
		*port = "8080"
	}
	h, err := newStaticHandler(*root)
	if err != nil {
		return err
	}
	defer h.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, *port))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(logw, "static-server: serving %s on %s\n", *root, ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(logw, "static-server: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// staticHandler serves the files under one directory.
type staticHandler struct {
	root *os.Root
	// etags memoizes each file's ETag (a content hash): an image's files
	// never change, and their modification times are all the same
	// (buildpack images date files in 1980), so Last-Modified cannot
	// tell versions apart.
	etags sync.Map // name → string
}

func newStaticHandler(dir string) (*staticHandler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the site root: %w", err)
	}
	return &staticHandler{root: root}, nil
}

func (h *staticHandler) Close() error { return h.root.Close() }

func (h *staticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, status := staticName(r.URL.Path, r.URL.EscapedPath())
	switch status {
	case http.StatusBadRequest:
		http.Error(w, "400 bad request", http.StatusBadRequest)
		return
	case http.StatusNotFound:
		h.notFound(w, r)
		return
	}
	f, fi, err := h.open(name)
	if err != nil && path.Ext(name) == "" && name != "." {
		// Clean URLs: /about serves about.html.
		name += ".html"
		f, fi, err = h.open(name)
	}
	if err != nil {
		h.notFound(w, r)
		return
	}
	defer f.Close()
	if fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			// The cleaned name, never the raw path, goes into Location:
			// a path like //host would make it a redirect off-site.
			target := "/" + strings.TrimPrefix(name+"/", "./")
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		f.Close()
		name = path.Join(name, "index.html")
		if f, fi, err = h.open(name); err != nil || fi.IsDir() {
			// No index: a directory is never listed.
			h.notFound(w, r)
			return
		}
		defer f.Close()
	}
	h.serveFile(w, r, name, f, fi)
}

func (h *staticHandler) open(name string) (*os.File, fs.FileInfo, error) {
	f, err := h.root.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fs.ErrNotExist
	}
	return f, fi, nil
}

func (h *staticHandler) serveFile(w http.ResponseWriter, r *http.Request, name string, f *os.File, fi fs.FileInfo) {
	if etag, err := h.etag(name, f); err == nil {
		w.Header().Set("ETag", etag)
	}
	if path.Ext(name) == ".html" {
		w.Header().Set("Cache-Control", "no-cache")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	// A zero time: no Last-Modified (see etags); ServeContent answers
	// If-None-Match and Range requests.
	http.ServeContent(w, r, fi.Name(), time.Time{}, f)
}

// etag returns the ETag of name, hashing f once and rewinding it.
func (h *staticHandler) etag(name string, f *os.File) (string, error) {
	if v, ok := h.etags.Load(name); ok {
		return v.(string), nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	etag := `"` + hex.EncodeToString(sum.Sum(nil))[:32] + `"`
	h.etags.Store(name, etag)
	return etag, nil
}

// notFound answers 404 with the site's 404.html, or a short text.
func (h *staticHandler) notFound(w http.ResponseWriter, r *http.Request) {
	f, fi, err := h.open("404.html")
	if err != nil || fi.IsDir() {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, f)
	}
}

// staticName maps a request's path (decoded, and as escaped on the wire)
// to a file name under the root, in io/fs form. It answers 400 for a path
// that tries to leave the root or hides a separator ("..", an encoded
// slash or backslash, a NUL), and 404 for a dotfile other than
// .well-known or for one of apprun's own files at the root (apprun.yaml,
// Procfile, ...); status 0 means serve name.
func staticName(urlPath, escapedPath string) (name string, status int) {
	lower := strings.ToLower(escapedPath)
	if !strings.HasPrefix(urlPath, "/") || strings.ContainsAny(urlPath, "\\\x00") ||
		strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return "", http.StatusBadRequest
	}
	for _, seg := range strings.Split(urlPath, "/") {
		switch {
		case seg == "..":
			return "", http.StatusBadRequest
		case seg == ".well-known" || seg == "." || seg == "":
		case strings.HasPrefix(seg, "."):
			return "", http.StatusNotFound
		}
	}
	name = strings.TrimPrefix(path.Clean(urlPath), "/")
	if name == "" {
		name = "."
	}
	if !fs.ValidPath(name) {
		return "", http.StatusBadRequest
	}
	if platformFiles[strings.ToLower(name)] {
		return "", http.StatusNotFound
	}
	return name, 0
}

// platformFiles are the files at a source root that configure apprun, not
// the site: when the site is served from the app's root directory they
// would otherwise be readable over HTTP.
var platformFiles = map[string]bool{
	"apprun.yaml": true, "apprun.yml": true, "apprunner.yaml": true, "apprunner.yml": true,
	"procfile": true, "project.toml": true, "dockerfile": true,
}
