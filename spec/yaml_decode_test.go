package spec

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// upper is a YAMLUnmarshaler: a string that must be written in capitals.
type upper string

func (u *upper) UnmarshalYAMLNode(n *YAMLNode) error {
	if n.Kind != YAMLScalar {
		return fmt.Errorf("expected a word, found %s", describeNode(n))
	}
	if strings.ToUpper(n.Value) != n.Value {
		return Problems{{Message: fmt.Sprintf("%q must be in capitals", n.Value)}}
	}
	*u = upper(n.Value)
	return nil
}

type decodeItem struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value,omitempty"`
}

type decodeTarget struct {
	Name     string                `yaml:"name"`
	On       bool                  `yaml:"on"`
	Count    int                   `yaml:"count"`
	Small    int8                  `yaml:"small"`
	Port     uint16                `yaml:"port"`
	Ratio    float64               `yaml:"ratio"`
	Timeout  time.Duration         `yaml:"timeout"`
	Labels   map[string]string     `yaml:"labels"`
	Groups   map[string]decodeItem `yaml:"groups"`
	Items    []decodeItem          `yaml:"items"`
	Tags     []string              `yaml:"tags"`
	Next     *decodeTarget         `yaml:"next"`
	Word     upper                 `yaml:"word"`
	Skipped  string                `yaml:"-"`
	Untagged string
}

func TestUnmarshalYAML(t *testing.T) {
	in := `name: svc
on: true
count: -42
small: 127
port: 0x1F90
ratio: 0.25
timeout: 1m30s
labels:
  a: 1
  b: x
groups:
  web: {name: w}
items:
  - name: one
    value: 1
  - name: two
tags: [a, "b"]
next:
  name: inner
  next:
    count: 7
word: HELLO
`
	var got decodeTarget
	if err := UnmarshalYAML([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := decodeTarget{
		Name: "svc", On: true, Count: -42, Small: 127, Port: 8080, Ratio: 0.25,
		Timeout: 90 * time.Second,
		Labels:  map[string]string{"a": "1", "b": "x"},
		Groups:  map[string]decodeItem{"web": {Name: "w"}},
		Items:   []decodeItem{{Name: "one", Value: "1"}, {Name: "two"}},
		Tags:    []string{"a", "b"},
		Next:    &decodeTarget{Name: "inner", Next: &decodeTarget{Count: 7}},
		Word:    "HELLO",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", got, want)
	}
}

func TestUnmarshalYAMLKeepsDefaults(t *testing.T) {
	got := decodeTarget{
		Name: "default", Count: 5, Timeout: time.Second,
		Labels: map[string]string{"keep": "k", "over": "o"},
		Tags:   []string{"old"},
		Next:   &decodeTarget{Name: "n", Count: 1},
	}
	in := "count: 6\nlabels:\n  over: new\ntags: [new]\nnext:\n  count: 2\nname:\ntimeout: ~\n"
	if err := UnmarshalYAML([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := decodeTarget{
		Name: "default", Count: 6, Timeout: time.Second,
		Labels: map[string]string{"keep": "k", "over": "new"},
		Tags:   []string{"new"},
		Next:   &decodeTarget{Name: "n", Count: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", got, want)
	}
}

func TestUnmarshalYAMLProblems(t *testing.T) {
	in := `nmae: x
on: yes
count: "8"
small: 128
port: -1
ratio: 1e999
timeout: 30
labels: [a]
items:
  - name: one
  - name: [x]
    vaule: y
  - plain
tags: a
next:
  count: 1.5
  next:
    word: lower
word: [x]
extra:
  deep: 1
`
	var got decodeTarget
	err := UnmarshalYAML([]byte(in), &got)
	ps, ok := AsProblems(err)
	if !ok {
		t.Fatalf("error %v is not Problems", err)
	}
	want := []Problem{
		{Field: "nmae", Line: 1, Message: `unknown field "nmae" (did you mean "name"?)`},
		{Field: "on", Line: 2, Message: `expected true or false, found "yes"`},
		{Field: "count", Line: 3, Message: `expected an integer, found the quoted string "8"`},
		{Field: "small", Line: 4, Message: "128 is out of range: must be between -128 and 127"},
		{Field: "port", Line: 5, Message: "-1 is out of range: must be between 0 and 65535"},
		{Field: "ratio", Line: 6, Message: "1e999 is out of range for a number"},
		{Field: "timeout", Line: 7, Message: `expected a duration such as "30s" or "1m30s", found "30"`},
		{Field: "labels", Line: 8, Message: "expected a mapping, found a list"},
		{Field: "items[1].name", Line: 11, Message: "expected a string, found a list"},
		{Field: "items[1].vaule", Line: 12, Message: `unknown field "vaule" (did you mean "value"?)`},
		{Field: "items[2]", Line: 13, Message: `expected a mapping, found "plain"`},
		{Field: "tags", Line: 14, Message: `expected a list, found "a"`},
		{Field: "next.count", Line: 16, Message: `expected an integer, found "1.5"`},
		{Field: "next.next.word", Line: 18, Message: `"lower" must be in capitals`},
		{Field: "word", Line: 19, Message: "expected a word, found a list"},
		{Field: "extra", Line: 20, Message: `unknown field "extra"`},
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), strings.ReplaceAll(ps.Error(), "; ", "\n"))
	}
	for i := range min(len(ps), len(want)) {
		if ps[i] != want[i] {
			t.Errorf("problem %d = %+v\n           want %+v", i, ps[i], want[i])
		}
	}
	// The values that decoded are kept alongside the problems.
	if got.Items[0].Name != "one" || got.Next == nil || got.Next.Next == nil {
		t.Errorf("good values were not decoded: %+v", got)
	}
}

func TestUnmarshalYAMLScalars(t *testing.T) {
	type nums struct {
		I   int     `yaml:"i"`
		I64 int64   `yaml:"i64"`
		U8  uint8   `yaml:"u8"`
		U64 uint64  `yaml:"u64"`
		F   float64 `yaml:"f"`
		F32 float32 `yaml:"f32"`
		S   string  `yaml:"s"`
		B   bool    `yaml:"b"`
	}
	tests := []struct {
		in      string
		want    nums
		problem string
	}{
		{in: "i: 12", want: nums{I: 12}},
		{in: "i: +12", want: nums{I: 12}},
		{in: "i: 0o17", want: nums{I: 15}},
		{in: "i: 0", want: nums{I: 0}},
		{in: "i64: -9223372036854775808", want: nums{I64: math.MinInt64}},
		{in: "i64: 9223372036854775808", problem: "out of range"},
		{in: "i: 99999999999999999999999", problem: "out of range"},
		{in: "u8: 255", want: nums{U8: 255}},
		{in: "u8: 256", problem: "between 0 and 255"},
		{in: "u64: 18446744073709551615", want: nums{U64: math.MaxUint64}},
		{in: "u8: -0", want: nums{U8: 0}},
		{in: "i: 012", problem: "expected an integer"},
		{in: "i: 1_000", problem: "expected an integer"},
		{in: "i: 0x", problem: "expected an integer"},
		{in: "i: 1.0", problem: "expected an integer"},
		{in: "i: true", problem: "expected an integer"},
		{in: "f: 1", want: nums{F: 1}},
		{in: "f: -2.5e3", want: nums{F: -2500}},
		{in: "f: .5", want: nums{F: 0.5}},
		{in: "f: -.inf", want: nums{F: math.Inf(-1)}},
		{in: "f32: 3.5e38", problem: "out of range"},
		{in: "f: Inf", problem: "expected a number"},
		{in: "f: 0x1p3", problem: "expected a number"},
		{in: "f: '1.5'", problem: "quoted string"},
		{in: "s: 1.10", want: nums{S: "1.10"}},
		{in: "s: true", want: nums{S: "true"}},
		{in: "s: 'x'", want: nums{S: "x"}},
		{in: "s: |\n  x\n", want: nums{S: "x\n"}},
		{in: "s: {a: 1}", problem: "expected a string, found a mapping"},
		{in: "b: false", want: nums{}},
		{in: "b: True", problem: "expected true or false"},
		{in: `b: "true"`, problem: "quoted string"},
	}
	for _, tt := range tests {
		var got nums
		err := UnmarshalYAML([]byte(tt.in), &got)
		switch {
		case tt.problem == "" && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.problem == "" && got != tt.want:
			t.Errorf("%q: got %+v, want %+v", tt.in, got, tt.want)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
			t.Errorf("%q: error %v, want one containing %q", tt.in, err, tt.problem)
		}
	}
	var nan struct {
		F float64 `yaml:"f"`
	}
	if err := UnmarshalYAML([]byte("f: .NaN"), &nan); err != nil || !math.IsNaN(nan.F) {
		t.Errorf(".NaN decoded as %v, %v", nan.F, err)
	}
}

func TestUnmarshalYAMLSyntaxError(t *testing.T) {
	var v decodeTarget
	err := UnmarshalYAML([]byte("name: a\nname: b\n"), &v)
	ps, ok := AsProblems(err)
	if !ok || len(ps) != 1 || ps[0].Line != 2 || !strings.Contains(ps[0].Message, "duplicate key") {
		t.Errorf("got %#v, want one duplicate-key problem on line 2", err)
	}
	if got := ps.Error(); got != `line 2: duplicate key "name" (first on line 1)` {
		t.Errorf("Error() = %q", got)
	}
}

func TestUnmarshalYAMLTargets(t *testing.T) {
	var s decodeTarget
	for _, tt := range []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"not a pointer", s},
		{"nil pointer", (*decodeTarget)(nil)},
		{"interface field", &struct {
			X any `yaml:"x"`
		}{}},
		{"int map key", &map[int]string{}},
		{"channel in a list", &[]chan int{}},
	} {
		err := UnmarshalYAML([]byte("x: 1"), tt.v)
		if _, isProblems := AsProblems(err); err == nil || isProblems {
			t.Errorf("%s: error %v, want a programming error", tt.name, err)
		}
	}
	// A map and a list decode at the top level too, and an empty document
	// decodes to nothing.
	m := map[string][]int{}
	if err := UnmarshalYAML([]byte("a: [1, 2]\nb: []\n"), &m); err != nil || len(m["a"]) != 2 || m["b"] == nil {
		t.Errorf("map: %v, %v", m, err)
	}
	if err := UnmarshalYAML([]byte("# nothing\n"), &s); err != nil {
		t.Errorf("empty document: %v", err)
	}
}

func TestYAMLNodeDecode(t *testing.T) {
	n, err := ParseYAML([]byte("list:\n  - name: a\n  - name: 1\n    bad: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	var items []decodeItem
	err = n.Lookup("list").Decode(&items)
	ps, _ := AsProblems(err)
	if len(ps) != 1 || ps[0].Field != "[1].bad" || ps[0].Line != 4 {
		t.Errorf("Decode problems = %v, want one at [1].bad on line 4", err)
	}
	if len(items) != 2 || items[1].Name != "1" {
		t.Errorf("Decode = %+v", items)
	}
}

func TestSuggestField(t *testing.T) {
	type commands struct {
		PreBuild  []string `yaml:"pre-build"`
		Build     []string `yaml:"build"`
		PostBuild []string `yaml:"post-build"`
	}
	type network struct {
		Port int `yaml:"port"`
	}
	type run struct {
		Command string   `yaml:"command"`
		Network *network `yaml:"network"`
		Word    upper    `yaml:"word"`
	}
	tests := []struct {
		t         reflect.Type
		key, want string
	}{
		{reflect.TypeFor[commands](), "pre_build", ` (did you mean "pre-build"?)`},
		{reflect.TypeFor[commands](), "Build", ` (did you mean "build"?)`},
		{reflect.TypeFor[commands](), "biuld", ` (did you mean "build"?)`},
		{reflect.TypeFor[commands](), "postbuild!", ` (did you mean "post-build"?)`},
		{reflect.TypeFor[commands](), "deploy", "; expected one of: pre-build, build, post-build"},
		{reflect.TypeFor[run](), "port", ` (did you mean "network.port"?)`},
		{reflect.TypeFor[run](), "entrypoint", "; expected one of: command, network, word"},
		{reflect.TypeFor[struct{}](), "x", ""},
	}
	for _, tt := range tests {
		if got := suggestField(tt.key, tt.t); got != tt.want {
			t.Errorf("suggestField(%q, %v) = %q, want %q", tt.key, tt.t, got, tt.want)
		}
	}
	if got := editDistance("kitten", "sitting"); got != 3 {
		t.Errorf("editDistance = %d, want 3", got)
	}
}
