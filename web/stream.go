package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/apprun/apprun/spec"
)

// Long operations (a build, a deployment, a rollback, following logs)
// answer with NDJSON: one JSON object per line, flushed as it happens, so a
// client shows progress at once and a proxy cannot buffer the whole answer.
// Everything that can be refused is checked before the stream starts, so
// those refusals are ordinary JSON errors with their own status; once the
// 200 is sent, a failure can only be reported as a last line.

// startStream commits a 200 NDJSON answer and returns the stream to write
// events to. It enables full duplex first: the routes that upload an archive
// stream their log back while the archive is still being read, and without
// full duplex net/http closes an HTTP/1 request body once the first response
// bytes are flushed.
func (s *Server) startStream(c echo.Context) *eventStream {
	w := c.Response()
	if err := http.NewResponseController(w.Writer).EnableFullDuplex(); err != nil {
		s.log.Debug("full duplex unavailable; reading the body before streaming", "err", err)
	}
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Flush()
	return &eventStream{w: w}
}

// eventStream writes one JSON object per line and flushes it at once. It is
// safe for concurrent senders.
type eventStream struct {
	mu sync.Mutex
	w  *echo.Response
}

// send writes ev as one line. The error is the client's connection failing
// (a caller following logs stops on it); events are our own types, which
// always marshal.
func (e *eventStream) send(ev any) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(append(data, '\n')); err != nil {
		return err
	}
	e.w.Flush()
	return nil
}

// streamFailure is the "error" object of a stream's last line for err, which
// ended a build or a deployment after the stream started. failedCode is the
// operation's own code ("build_failed", "deploy_failed") for everything that
// is not one of the shared cases.
func streamFailure(err error, failedCode string) errorDetail {
	var mbe *http.MaxBytesError
	if ps, ok := spec.AsProblems(err); ok && len(ps) > 0 {
		return errorDetail{Code: codeInvalid, Message: ps.Error(), Field: ps[0].Field, Problems: ps}
	}
	switch {
	case errors.As(err, &mbe):
		ae := tooLarge(mbe.Limit)
		return errorDetail{Code: ae.code, Message: ae.message}
	case errors.Is(err, context.Canceled):
		return errorDetail{Code: "cancelled", Message: "the operation was cancelled"}
	}
	return errorDetail{Code: failedCode, Message: err.Error()}
}

// archiveBody returns the request body of a route that takes a source
// archive, after checking that there is one and that it claims to be a tar
// or a tar.gz. The first byte is peeked rather than trusting Content-Length,
// so a chunked upload with nothing in it is refused too.
func archiveBody(c echo.Context) (io.Reader, error) {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !archiveTypes[strings.ToLower(mt)] {
			return nil, &apiError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia, field: "Content-Type",
				message: "the body must be a tar or tar.gz of the source, sent as application/x-tar or application/gzip, not " + clip(ct)}
		}
	}
	const empty = "request body is empty: send a tar or tar.gz of the source"
	if req.ContentLength == 0 || req.Body == nil || req.Body == http.NoBody {
		return nil, badRequest("", empty)
	}
	br := bufio.NewReader(req.Body)
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, badRequest("", empty)
		}
		return nil, err
	}
	return br, nil
}

// archiveTypes are the content types an archive may be sent as: the tar and
// gzip types, and application/octet-stream for clients that know no better.
var archiveTypes = map[string]bool{
	"application/x-tar":            true,
	"application/tar":              true,
	"application/gzip":             true,
	"application/x-gzip":           true,
	"application/x-gtar":           true,
	"application/tar+gzip":         true,
	"application/octet-stream":     true,
	"application/x-compressed":     true,
	"application/x-tar-gz":         true,
	"application/x-compressed-tar": true,
}
