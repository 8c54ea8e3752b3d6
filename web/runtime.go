package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apprun/apprun/spec"
)

// The routes here act on a service's running instances through the
// Deployer: its formation, its logs, its instance list.

// putFormation is PUT /api/v1/services/{name}/formation: a JSON object of
// process type → instance count ({"web": 3, "worker": 1}). Types it does
// not name keep their count. It answers with the updated service.
func (s *Server) putFormation(c echo.Context) error {
	svc, err := s.deployTarget(c)
	if err != nil {
		return err
	}
	data, err := readBody(c)
	if err != nil {
		return err
	}
	formation, err := decodeFormation(data)
	if err != nil {
		return err
	}
	updated, err := s.cfg.Deployer.Scale(c.Request().Context(), svc, formation)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.serviceJSON(updated))
}

// decodeFormation reads a formation body. Like decodeStringMap it checks
// each value itself, because encoding/json does not say which key of a map
// held a wrong type; every range and name problem is reported at once, with
// the field names spec.Service.Validate uses ("formation.web").
func decodeFormation(data []byte) (map[string]int, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(data, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, badRequest("", `the formation is empty: give at least one process type and its count, as {"web": 2}`)
	}
	out := make(map[string]int, len(raw))
	var ps spec.Problems
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		field := joinPath("formation", k)
		v := bytes.TrimSpace(raw[k])
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return nil, badRequest(field, "wrong JSON type for %q: expected an integer, got %s", field, clip(string(v)))
		}
		if err := spec.ValidateProcessType(k); err != nil {
			ps.Add(field, "%v", err)
		}
		if n < 0 || n > spec.MaxInstancesLimit {
			ps.Add(field, "must be between 0 and %d, got %d", spec.MaxInstancesLimit, n)
		}
		out[k] = n
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// getInstances is GET /api/v1/services/{name}/instances.
func (s *Server) getInstances(c echo.Context) error {
	svc, err := s.deployTarget(c)
	if err != nil {
		return err
	}
	list, err := s.cfg.Deployer.Instances(c.Request().Context(), svc)
	if err != nil {
		return err
	}
	if list == nil {
		list = []InstanceStatus{}
	}
	return c.JSON(http.StatusOK, map[string]any{"instances": list})
}

// maxTail bounds ?tail so that one request cannot ask the deployer to hold
// millions of lines in memory.
const maxTail = 100_000

// logsEvent is one line of the logs stream: a LogLine, or a last line with
// the error that stopped the stream once it had started.
type logsEvent struct {
	*LogLine
	Error *errorDetail `json:"error,omitempty"`
}

// getLogs is GET /api/v1/services/{name}/logs: the service's instance
// output as NDJSON, one LogLine per line, each flushed as it is written, so
// that `apprun logs -f` shows lines as they happen.
func (s *Server) getLogs(c echo.Context) error {
	svc, err := s.deployTarget(c)
	if err != nil {
		return err
	}
	q, err := parseLogQuery(c, time.Now())
	if err != nil {
		return err
	}
	stream := s.startStream(c)
	ctx := c.Request().Context()
	err = s.cfg.Deployer.Logs(ctx, svc, q, func(l LogLine) error {
		// A send error is the client gone; returning it stops the deployer
		// reading logs nobody will see.
		return stream.send(logsEvent{LogLine: &l})
	})
	if err != nil && ctx.Err() == nil {
		// The stream has started, so the error can only be its last line;
		// a client can then tell a failure from the end of the logs.
		detail := streamFailure(err, "logs_failed")
		var ae *apiError
		if errors.Is(err, spec.ErrNotFound) {
			detail.Code = codeNotFound
		} else if errors.As(err, &ae) {
			detail = errorDetail{Code: ae.code, Message: ae.message, Field: ae.field}
		}
		s.log.Warn("reading logs failed", "service", svc.Name, "err", err)
		_ = stream.send(logsEvent{Error: &detail})
	}
	return nil
}

// parseLogQuery reads the logs route's query parameters, naming the one at
// fault. since is a duration back from now ("10m", "2h") or an RFC 3339
// time.
func parseLogQuery(c echo.Context, now time.Time) (LogQuery, error) {
	var q LogQuery
	if v := c.QueryParam("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return q, badRequest("follow", "follow must be true or false, got %q", clip(v))
		}
		q.Follow = b
	}
	if v := c.QueryParam("since"); v != "" {
		t, err := parseSince(v, now)
		if err != nil {
			return q, badRequest("since", "%v", err)
		}
		q.Since = t
	}
	if v := c.QueryParam("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxTail {
			return q, badRequest("tail", "tail must be a number of lines from 0 (all) to %d, got %q", maxTail, clip(v))
		}
		q.Tail = n
	}
	if v := c.QueryParam("process"); v != "" {
		if err := spec.ValidateProcessType(v); err != nil {
			return q, badRequest("process", "%v", err)
		}
		q.Process = v
	}
	if v := c.QueryParam("revision"); v != "" {
		if !validID(v) {
			return q, badRequest("revision", "%q is not a revision ID", clip(v))
		}
		q.Revision = v
	}
	return q, nil
}

// parseSince reads a duration ("90s", "10m", "1h30m") back from now, or an
// absolute RFC 3339 time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, errors.New("since must be a positive duration such as 10m, or an RFC 3339 time")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		// A "+" of a time zone offset arrives as a space when the client
		// forgot to escape it; say so rather than only "cannot parse".
		hint := ""
		if strings.Contains(v, " ") {
			hint = " (escape a '+' in the zone offset as %2B)"
		}
		return time.Time{}, errors.New("since must be a duration such as 10m or an RFC 3339 time such as 2006-01-02T15:04:05Z, got \"" + clip(v) + "\"" + hint)
	}
	return t, nil
}

// undeploy removes a deleted service's instances and routes. The service is
// already gone from the store, so a failure here is logged, not answered:
// the reconciler removes whatever is left over.
func (s *Server) undeploy(ctx context.Context, svc spec.Service) {
	if s.cfg.Deployer == nil {
		return
	}
	// The client may hang up once it has its 204; stopping containers must
	// not be cut short by that, only bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := s.cfg.Deployer.Undeploy(ctx, svc); err != nil {
		s.log.Warn("undeploying a deleted service failed; the reconciler will remove what is left", "service", svc.Name, "err", err)
	}
}
