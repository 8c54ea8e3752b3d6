package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// limitBody bounds every request body by Config.BodyLimit. A declared
// Content-Length over the limit is refused before anything is read; a body
// that turns out longer while being read fails with *http.MaxBytesError,
// which the error handler maps to the same 413. Using http.MaxBytesReader
// (rather than echo's BodyLimit middleware) also tells net/http to close the
// connection instead of draining the rest of a huge body.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := s.cfg.BodyLimit
		if s.archiveRoutes[c.Path()] {
			limit = s.cfg.ArchiveLimit
		}
		if req.ContentLength > limit {
			return tooLarge(limit)
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, limit)
		}
		return next(c)
	}
}

// readBody reads the whole (already bounded) request body and refuses an
// empty one: every route that reads a body needs one.
func readBody(c echo.Context) ([]byte, error) {
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		// A *http.MaxBytesError passes through to become a 413; any other
		// read error is the connection failing under us.
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, badRequest("", "request body is empty")
	}
	return data, nil
}

// decodeJSON decodes data, which must be exactly one JSON object, into v,
// strictly: unknown fields, wrong types and trailing data are errors that
// name what is wrong, so a typo ("maxConcurency") is never silently ignored
// and the default kept. v must be a pointer to a struct or a map.
func decodeJSON(data []byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return badRequest("", "request body is empty")
	}
	if trimmed[0] != '{' {
		// null would decode as "no change" and an array or a string as a
		// type error without a field; both are better refused plainly.
		return badRequest("", "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, data, v)
	}
	// Anything after the object means the client sent something other than
	// what it thinks it sent (two objects, a stray brace); refuse it rather
	// than act on the first half.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "unexpected data after the JSON object at byte offset %d", dec.InputOffset())
	}
	return nil
}

// jsonError turns an encoding/json error into a 400 that names the field at
// fault, without leaking Go type names.
func jsonError(err error, data []byte, v any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &syn):
		return badRequest("", "malformed JSON at byte offset %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("", "wrong JSON type at byte offset %d: expected %s, got %s", typ.Offset, jsonKind(typ.Type), typ.Value)
		}
		return badRequest(typ.Field, "wrong JSON type for %q: expected %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	}
	// encoding/json reports an unknown field only as `json: unknown field
	// "x"`, without its path; find the path by walking the body against the
	// target type so the client learns "scaling.maxConcurency", not just
	// "maxConcurency".
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		field := unknownFieldPath(data, reflect.TypeOf(v), name)
		return badRequest(field, "unknown field %q", field)
	}
	return badRequest("", "malformed JSON: %v", err)
}

// jsonKind names the JSON type a Go type expects, for messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a value"
}

// unknownFieldPath finds the dotted path of the unknown field called name in
// data, decoded against t. It returns name alone when it cannot tell (it
// never fails: the path only improves the message).
func unknownFieldPath(data []byte, t reflect.Type, name string) string {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return name
	}
	var found []string
	walkUnknown(doc, t, "", name, &found)
	if len(found) == 0 {
		return name
	}
	// Several unknown fields of the same name: report the first in a stable
	// order rather than whichever the map iteration produced.
	slices.Sort(found)
	return found[0]
}

func walkUnknown(doc any, t reflect.Type, prefix, name string, found *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return
	}
	switch t.Kind() {
	case reflect.Map:
		for k, v := range obj {
			walkUnknown(v, t.Elem(), joinPath(prefix, k), name, found)
		}
	case reflect.Struct:
		for k, v := range obj {
			f, ok := jsonField(t, k)
			if !ok {
				if k == name {
					*found = append(*found, joinPath(prefix, k))
				}
				continue
			}
			walkUnknown(v, f.Type, joinPath(prefix, k), name, found)
		}
	}
}

// jsonField finds the struct field that encoding/json would decode key into:
// an exact tag match, else a case-insensitive one (as encoding/json does).
// Embedded structs are searched too.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold reflect.StructField
	folded := false
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == key {
			return f, true
		}
		if !folded && strings.EqualFold(tag, key) {
			fold, folded = f, true
		}
	}
	return fold, folded
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// hasKey reports whether the top-level JSON object in data has key, matched
// the way encoding/json matches fields (case-insensitively), so that what
// the PATCH logic considers "present" is what the decoder will write.
func hasKey(data []byte, key string) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return false
	}
	for k := range top {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// decodeStringMap decodes a JSON object of strings (an env or secrets body).
// It checks each value's type itself because encoding/json does not say which
// key of a map held a wrong type; prefix names the map in the field path.
func decodeStringMap(data []byte, prefix string) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := decodeJSON(data, &raw); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]string, len(raw))
	for _, k := range keys {
		var v string
		if err := json.Unmarshal(raw[k], &v); err != nil || bytes.Equal(bytes.TrimSpace(raw[k]), []byte("null")) {
			field := joinPath(prefix, k)
			return nil, badRequest(field, "wrong JSON type for %q: expected a string", field)
		}
		out[k] = v
	}
	return out, nil
}
