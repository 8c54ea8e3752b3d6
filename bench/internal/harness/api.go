package harness

// This file is the benchmarks' API client: every request carries the admin
// token, and an error names the request and the server's answer, so a
// failed run says what the server refused.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Do sends one request to the API with the admin token and returns the
// response as it comes, for a caller that reads a stream; contentType may
// be "".
func (s *Server) Do(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.API+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return s.client.Do(req)
}

// Call is one JSON API request: in (when not nil) is the body, out (when
// not nil) receives the answer. A status other than 2xx is an error.
func (s *Server) Call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	contentType := ""
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	resp, err := s.Do(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, Clip(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Clip shortens s to 300 bytes for an error message.
func Clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
