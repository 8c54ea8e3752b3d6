package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/apprun/apprun/spec"
	"github.com/labstack/echo/v4"
)

// Error codes, the stable, machine-readable half of an error response. The
// message is for people and may change; clients branch on the code.
const (
	codeBadRequest       = "bad_request"
	codeInvalid          = "invalid"
	codeUnauthorized     = "unauthorized"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codeTooLarge         = "too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeUnavailable      = "unavailable"
	// codeVerificationFailed: a custom domain's ownership could not be
	// proven (422; the message says what was checked and found).
	codeVerificationFailed = "verification_failed"
	codeInternal           = "internal"
)

// apiError is an error that already knows its HTTP answer. Handlers return it
// for problems they detect themselves (a malformed body, a bad path
// parameter); errors from the store and the domain are mapped by toAPIError.
type apiError struct {
	status   int
	code     string
	message  string
	field    string
	problems spec.Problems
}

func (e *apiError) Error() string {
	if e.field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.code, e.message, e.field)
	}
	return e.code + ": " + e.message
}

func badRequest(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeBadRequest, field: field, message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf(format, args...)}
}

// errorBody is the one JSON shape of every error the server sends.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the path of the field at fault ("scaling.maxInstances"), when
	// one is.
	Field string `json:"field,omitempty"`
	// Problems lists every validation problem (422 only).
	Problems []spec.Problem `json:"problems,omitempty"`
}

// toAPIError maps any error a handler or middleware returns to its answer.
// The second result is false for errors the client must not see the details
// of (they are logged instead).
func toAPIError(err error, c echo.Context) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	if ps, ok := spec.AsProblems(err); ok && len(ps) > 0 {
		return &apiError{
			status:   http.StatusUnprocessableEntity,
			code:     codeInvalid,
			message:  ps.Error(),
			field:    ps[0].Field,
			problems: ps,
		}, true
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit), true
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEchoError(he, c), true
	}
	switch {
	case errors.Is(err, spec.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: codeNotFound, message: sentinelMessage(err, spec.ErrNotFound)}, true
	case errors.Is(err, spec.ErrConflict):
		return &apiError{status: http.StatusConflict, code: codeConflict, message: sentinelMessage(err, spec.ErrConflict)}, true
	case errors.Is(err, spec.ErrUnauthorized):
		return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, message: "a valid bearer token is required"}, true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The client went away or the store did not answer in time; neither
		// is the server's bug, and a retry may succeed.
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "the request did not complete in time; retry"}, false
	}
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "internal error; the server log has the details"}, false
}

// sentinelMessage is err's message without the sentinel's own words at the
// end ("service \"web\" already exists: conflict"): the code already says
// them, and the store's wrapping context is the part a person needs.
func sentinelMessage(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}

func tooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge, message: fmt.Sprintf("request body is larger than the limit of %d bytes", limit)}
}

// fromEchoError maps echo's own errors (no route, wrong method, a body over
// a limit enforced by echo middleware) onto the same shape as ours.
func fromEchoError(he *echo.HTTPError, c echo.Context) *apiError {
	msg, _ := he.Message.(string)
	req := c.Request()
	switch he.Code {
	case http.StatusNotFound:
		return notFound("no route for %s %s", req.Method, req.URL.Path)
	case http.StatusMethodNotAllowed:
		return &apiError{status: he.Code, code: codeMethodNotAllowed, message: fmt.Sprintf("%s is not allowed on %s", req.Method, req.URL.Path)}
	case http.StatusRequestEntityTooLarge:
		return &apiError{status: he.Code, code: codeTooLarge, message: "request body is too large"}
	case http.StatusUnauthorized:
		return &apiError{status: he.Code, code: codeUnauthorized, message: "a valid bearer token is required"}
	case http.StatusBadRequest:
		return &apiError{status: he.Code, code: codeBadRequest, message: orDefault(msg, "bad request")}
	}
	if he.Code >= 500 {
		return &apiError{status: he.Code, code: codeInternal, message: "internal error; the server log has the details"}
	}
	return &apiError{status: he.Code, code: codeBadRequest, message: orDefault(msg, http.StatusText(he.Code))}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// handleError is the echo HTTPErrorHandler: the one place an error becomes
// a response.
func (s *Server) handleError(err error, c echo.Context) {
	ae, public := toAPIError(err, c)
	req := c.Request()
	switch {
	case ae.code == codeInternal:
		// Internal details go to the log only: they may name files, SQL or
		// hosts that a client has no business seeing.
		s.log.Error("request failed", "method", req.Method, "route", c.Path(), "status", ae.status, "err", err)
	case !public:
		// A timeout or a client that went away: worth seeing, not paging.
		s.log.Warn("request not completed", "method", req.Method, "route", c.Path(), "status", ae.status, "err", err)
	}
	if c.Response().Committed {
		// The handler already started its answer; all we can do is log.
		s.log.Warn("error after response was committed", "method", req.Method, "route", c.Path(), "err", err)
		return
	}
	if ae.status == http.StatusUnauthorized && c.Response().Header().Get(echo.HeaderWWWAuthenticate) == "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="apprun"`)
	}
	body := errorBody{Error: errorDetail{Code: ae.code, Message: ae.message, Field: ae.field, Problems: ae.problems}}
	var werr error
	if req.Method == http.MethodHead {
		werr = c.NoContent(ae.status)
	} else {
		werr = c.JSON(ae.status, body)
	}
	if werr != nil {
		s.log.Debug("writing error response", "err", werr)
	}
}
