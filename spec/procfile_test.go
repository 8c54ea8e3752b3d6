package spec

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Process
	}{
		{"one process", "web: gunicorn app:app\n", []Process{{"web", "gunicorn app:app"}}},
		{"file order kept", "worker: celery worker\nweb: ./server\nclock: ./clock\n",
			[]Process{{"worker", "celery worker"}, {"web", "./server"}, {"clock", "./clock"}}},
		{"comments and blank lines", "# processes\n\nweb: ./a # not a comment\n   \n  # indented comment\n",
			[]Process{{"web", "./a # not a comment"}}},
		{"CRLF and BOM", "\uFEFFweb: ./a\r\nworker: ./b\r\n", []Process{{"web", "./a"}, {"worker", "./b"}}},
		{"case kept", "Web: ./a\nRELEASE_1: ./b\n", []Process{{"Web", "./a"}, {"RELEASE_1", "./b"}}},
		{"spacing", "web:./a\nworker:    ./b --x   \n  clock: c\n", []Process{{"web", "./a"}, {"worker", "./b --x"}, {"clock", "c"}}},
		{"colons in the command", "web: node server.js --listen 0.0.0.0:$PORT\n", []Process{{"web", "node server.js --listen 0.0.0.0:$PORT"}}},
		{"tab in the command", "web: a\tb\n", []Process{{"web", "a\tb"}}},
		{"no final newline", "web: ./a", []Process{{"web", "./a"}}},
		{"63-character type", strings.Repeat("w", 63) + ": x\n", []Process{{strings.Repeat("w", 63), "x"}}},
		{"digit first", "1st: x\n", []Process{{"1st", "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcfile([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseProcfileProblems(t *testing.T) {
	var many strings.Builder
	for i := range MaxProcessTypes + 2 {
		fmt.Fprintf(&many, "p%d: x\n", i)
	}
	tests := []struct {
		name, in string
		want     []Problem
	}{
		{"empty", "", []Problem{{Field: "Procfile", Message: "declares no process types"}}},
		{"only comments", "# nothing\n\n", []Problem{{Field: "Procfile", Message: "declares no process types"}}},
		{"no colon", "web ./a\n", []Problem{{Field: "line 1", Line: 1, Message: `expected "type: command"`}}},
		{"empty command", "web: ./a\nworker:\nclock:   \n", []Problem{
			{Field: "processes.worker", Line: 2, Message: "has an empty command"},
			{Field: "processes.clock", Line: 3, Message: "has an empty command"}}},
		{"duplicate", "web: a\nworker: b\nweb: c\n", []Problem{
			{Field: "processes.web", Line: 3, Message: `process type "web" is already declared on line 1`}}},
		{"duplicate in another case", "web: a\nWEB: b\n", []Problem{
			{Field: "processes.WEB", Line: 2, Message: `process type "WEB" is already declared on line 1`}}},
		{"bad types", "-web: a\nweb worker: b\n: c\nwéb: d\nw.b: e\n" + strings.Repeat("w", 64) + ": f\n", []Problem{
			{Field: "line 1", Line: 1, Message: `process type "-web" must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit`},
			{Field: "line 2", Line: 2, Message: `process type "web worker" must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit`},
			{Field: "line 3", Line: 3, Message: `process type "" must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit`},
			{Field: "line 4", Line: 4, Message: `process type "wéb" must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit`},
			{Field: "line 5", Line: 5, Message: `process type "w.b" must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit`},
			{Field: "line 6", Line: 6, Message: `process type "` + strings.Repeat("w", 64) + `" must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit`}}},
		{"space before the colon", "web : a\n", []Problem{
			{Field: "line 1", Line: 1, Message: `process type "web " must be 1 to 63 letters, digits, '_' or '-', starting with a letter or digit`}}},
		{"NUL byte", "web: a\x00b\n", []Problem{{Field: "line 1", Line: 1, Message: "must not contain a NUL byte"}}},
		{"control character", "web: a\x1bb\n", []Problem{{Field: "line 1", Line: 1, Message: "must not contain the control character U+001B"}}},
		{"lone carriage return", "web: a\rworker: b\n", []Problem{{Field: "line 1", Line: 1, Message: "must not contain the control character U+000D"}}},
		{"too many types", many.String(), []Problem{{Field: "Procfile", Line: MaxProcessTypes + 1, Message: "declares more than 100 process types"}}},
		{"too large", strings.Repeat("#", MaxProcfileSize+1), []Problem{{Field: "Procfile", Message: "is 65537 bytes; the limit is 65536"}}},
		{"every problem at once", "web\nweb: a\nweb: b\nworker:\n", []Problem{
			{Field: "line 1", Line: 1, Message: `expected "type: command"`},
			{Field: "processes.web", Line: 3, Message: `process type "web" is already declared on line 2`},
			{Field: "processes.worker", Line: 4, Message: "has an empty command"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcfile([]byte(tt.in))
			ps, ok := AsProblems(err)
			if !ok {
				t.Fatalf("got %v, %v; want Problems", got, err)
			}
			if got != nil {
				t.Errorf("processes returned with the error: %v", got)
			}
			if !reflect.DeepEqual(ps, Problems(tt.want)) {
				t.Errorf("problems:\n got %#v\nwant %#v", ps, tt.want)
			}
		})
	}
}
