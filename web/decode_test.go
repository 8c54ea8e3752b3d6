package web

import (
	"errors"
	"net/http"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	for _, c := range []struct {
		body, field string
		ok          bool
	}{
		{`{"name":"a"}`, "", true},
		{` {"name":"a"} ` + "\n", "", true},
		{`{"name":"a","scaling":{"maxConcurrency":1}}`, "", true},
		{`{"Name":"a"}`, "", true}, // encoding/json folds case
		{`{"scaling":{"maxConcurency":1}}`, "scaling.maxConcurency", false},
		{`{"healthCheck":{"x":1},"y":2}`, "", false}, // one of the two; either is right
		{`{"env":{"A":"1"},"zz":1}`, "zz", false},
		{`{"port":"1"}`, "port", false},
		{`{"source":{"autoDeploy":"yes"}}`, "source.autoDeploy", false},
		{`{"networks":"db"}`, "networks", false},
		{`{}x`, "", false},
		{`{} {}`, "", false},
		{`[]`, "", false},
		{`"x"`, "", false},
		{`null`, "", false},
		{``, "", false},
		{`{`, "", false},
		{`{"a"}`, "", false},
	} {
		var in serviceInput
		err := decodeJSON([]byte(c.body), &in)
		if (err == nil) != c.ok {
			t.Errorf("%q: err = %v", c.body, err)
			continue
		}
		if err == nil {
			continue
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.status != http.StatusBadRequest || ae.code != codeBadRequest {
			t.Errorf("%q: %#v, want a 400 apiError", c.body, err)
			continue
		}
		if c.field != "" && ae.field != c.field {
			t.Errorf("%q: field %q, want %q", c.body, ae.field, c.field)
		}
	}
}

// FuzzDecodeService feeds arbitrary bytes to the strict decoder: it must
// never panic, and every failure must be a 400 (never a 500 that would hide
// a client mistake as a server fault).
func FuzzDecodeService(f *testing.F) {
	for _, s := range []string{
		`{"name":"web","port":8080,"env":{"A":"1"},"scaling":{"minInstances":0}}`,
		`{"scaling":{"maxConcurency":1}}`,
		`{"healthCheck":{"protocol":"HTTP","path":"/"}} trailing`,
		`{"networks":["db"],"domains":["a.example.com"],"source":{"repo":"https://x/y"}}`,
		`{"secrets":{"A":null}}`,
		`[`, `{"a":{"b":{"c":{}}}}`, "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in serviceInput
		if err := decodeJSON(data, &in); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusBadRequest {
				t.Fatalf("%q: %v is not a 400", data, err)
			}
		}
		if _, err := decodeStringMap(data, "env"); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusBadRequest {
				t.Fatalf("%q: %v is not a 400", data, err)
			}
		}
	})
}
