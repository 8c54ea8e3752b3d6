package spec

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// YAMLUnmarshaler is implemented by types that decode themselves from a
// node, such as a value that may be written as one string or as a list. The
// decoder calls it for every node but a null one. To point at a part of the
// node, return Problems whose Field is relative to the node ("[1]",
// "name"); their Line defaults to the node's.
type YAMLUnmarshaler interface {
	UnmarshalYAMLNode(n *YAMLNode) error
}

// UnmarshalYAML parses data (see ParseYAML) and decodes it onto v, a
// non-nil pointer, with these rules:
//
//   - a struct is a mapping; a field named by its `yaml:"name"` tag takes
//     the key of that name, fields without a tag (or tagged "-") are
//     skipped, and any other key is a problem;
//   - a map[string]T is a mapping, a []T a list, a pointer what it points
//     to; a string takes any scalar as written (8000 is "8000"), a bool
//     only true or false, an integer or float a plain number in range, a
//     time.Duration a Go duration such as "30s";
//   - a null or absent value leaves the target as it was, so decoding onto
//     a value that holds defaults keeps them; a list replaces the old one.
//
// Every problem is collected: the error is Problems, each naming the field
// as the file spells it ("run.network.port", "build.env[1].name") and its
// line. A syntax error is a single Problem with no field. An error that is
// not Problems means v's type cannot be decoded onto.
func UnmarshalYAML(data []byte, v any) error {
	root, err := ParseYAML(data)
	if err != nil {
		return syntaxProblems(err)
	}
	return decodeYAML(root, v, nil)
}

// Decode decodes n onto v with the rules of UnmarshalYAML; the fields of the
// problems are relative to n.
func (n *YAMLNode) Decode(v any) error {
	return decodeYAML(n, v, nil)
}

// syntaxProblems turns a parse error into Problems, so that every error about
// a file reads the same way at the edges.
func syntaxProblems(err error) Problems {
	var ye *YAMLError
	if errors.As(err, &ye) {
		return Problems{{Line: ye.Line, Message: ye.Message}}
	}
	return Problems{{Message: err.Error()}}
}

// decodeYAML decodes n onto v and, when lines is not nil, records there the
// line of every path it meets, so that later validation problems can point
// into the file.
func decodeYAML(n *YAMLNode, v any, lines map[string]int) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("yaml: decoding needs a non-nil pointer, got %T", v)
	}
	if err := checkYAMLType(rv.Type().Elem(), map[reflect.Type]bool{}); err != nil {
		return err
	}
	d := &yamlDecoder{lines: lines}
	if n != nil {
		d.decode(n, rv.Elem(), "")
	}
	return d.problems.Err()
}

var (
	unmarshalerType = reflect.TypeFor[YAMLUnmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
)

// checkYAMLType refuses, up front, a type the decoder cannot fill, so that
// a programming mistake fails every time rather than only on the input that
// reaches the field.
func checkYAMLType(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return nil
	case reflect.Pointer, reflect.Slice:
		return checkYAMLType(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("yaml: cannot decode into %s: map keys must be strings", t)
		}
		return checkYAMLType(t.Elem(), seen)
	case reflect.Struct:
		for _, f := range yamlFields(t) {
			if err := checkYAMLType(t.Field(f.index).Type, seen); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("yaml: cannot decode into %s", t)
}

// yamlField is a struct field that takes a key.
type yamlField struct {
	name  string
	index int
}

var yamlFieldCache sync.Map // reflect.Type → []yamlField

// yamlFields lists the fields of struct type t named by a yaml tag, in
// declaration order.
func yamlFields(t reflect.Type) []yamlField {
	if fs, ok := yamlFieldCache.Load(t); ok {
		return fs.([]yamlField)
	}
	var fs []yamlField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fs = append(fs, yamlField{name: name, index: i})
	}
	yamlFieldCache.Store(t, fs)
	return fs
}

// yamlDecoder walks a node tree and a Go value side by side, collecting
// problems rather than stopping at the first.
type yamlDecoder struct {
	problems Problems
	lines    map[string]int
}

func (d *yamlDecoder) add(field string, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Field: field, Line: line, Message: fmt.Sprintf(format, args...)})
}

// record notes the line of path, the first time it is met.
func (d *yamlDecoder) record(path string, line int) {
	if d.lines == nil {
		return
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = line
	}
}

// recordTree records the lines of every path under n, for nodes a
// YAMLUnmarshaler decoded out of the decoder's sight.
func (d *yamlDecoder) recordTree(n *YAMLNode, path string) {
	if d.lines == nil {
		return
	}
	for i, item := range n.Items {
		child := fmt.Sprintf("%s[%d]", path, i)
		d.record(child, item.Line)
		d.recordTree(item, child)
	}
	for _, pair := range n.Pairs {
		child := joinKey(path, pair.Key.Value)
		d.record(child, pair.Key.Line)
		d.recordTree(pair.Value, child)
	}
}

// joinKey appends a mapping key to a path.
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *yamlDecoder) decode(n *YAMLNode, v reflect.Value, path string) {
	if n.Kind == YAMLNull {
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(YAMLUnmarshaler); ok {
			d.callUnmarshaler(u, n, path)
			return
		}
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *yamlDecoder) callUnmarshaler(u YAMLUnmarshaler, n *YAMLNode, path string) {
	d.recordTree(n, path)
	err := u.UnmarshalYAMLNode(n)
	if err == nil {
		return
	}
	ps, ok := AsProblems(err)
	if !ok {
		d.add(path, n.Line, "%v", err)
		return
	}
	for _, p := range ps {
		if p.Line == 0 {
			p.Line = n.Line
		}
		p.Field = joinField(path, p.Field)
		d.problems = append(d.problems, p)
	}
}

func (d *yamlDecoder) decodeStruct(n *YAMLNode, v reflect.Value, path string) {
	if n.Kind != YAMLMapping {
		d.mismatch(n, path, "a mapping")
		return
	}
	fields := yamlFields(v.Type())
	for _, pair := range n.Pairs {
		key := pair.Key.Value
		child := joinKey(path, key)
		d.record(child, pair.Key.Line)
		i := -1
		for _, f := range fields {
			if f.name == key {
				i = f.index
				break
			}
		}
		if i < 0 {
			d.add(child, pair.Key.Line, "unknown field %q%s", key, suggestField(key, v.Type()))
			continue
		}
		d.decode(pair.Value, v.Field(i), child)
	}
}

func (d *yamlDecoder) decodeMap(n *YAMLNode, v reflect.Value, path string) {
	if n.Kind != YAMLMapping {
		d.mismatch(n, path, "a mapping")
		return
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Pairs)))
	}
	for _, pair := range n.Pairs {
		child := joinKey(path, pair.Key.Value)
		d.record(child, pair.Key.Line)
		key := reflect.ValueOf(pair.Key.Value).Convert(t.Key())
		elem := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		}
		d.decode(pair.Value, elem, child)
		v.SetMapIndex(key, elem)
	}
}

func (d *yamlDecoder) decodeSlice(n *YAMLNode, v reflect.Value, path string) {
	if n.Kind != YAMLSequence {
		d.mismatch(n, path, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Items), len(n.Items))
	for i, item := range n.Items {
		child := fmt.Sprintf("%s[%d]", path, i)
		d.record(child, item.Line)
		d.decode(item, s.Index(i), child)
	}
	v.Set(s)
}

// mismatch records that n is not the kind of value expected.
func (d *yamlDecoder) mismatch(n *YAMLNode, path, expected string) {
	hint := ""
	switch {
	case expected == "a mapping" && n.Kind == YAMLScalar && n.Style == YAMLPlain && strings.Contains(n.Value, ":"):
		hint = " (a key needs a space after its ':')"
	case expected == "a string" && n.Kind == YAMLMapping && len(n.Pairs) == 1 && n.Pairs[0].Key.Style == YAMLPlain:
		// `- echo "a: b"` is a mapping to YAML, which surprises everyone.
		hint = " (a ': ' inside a value starts a mapping; quote the whole value)"
	}
	d.add(path, n.Line, "expected %s, found %s%s", expected, describeNode(n), hint)
}

// describeNode names what a node is, for messages.
func describeNode(n *YAMLNode) string {
	switch n.Kind {
	case YAMLMapping:
		return "a mapping"
	case YAMLSequence:
		return "a list"
	case YAMLNull:
		return "nothing"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	switch n.Style {
	case YAMLSingleQuoted, YAMLDoubleQuoted:
		return "the quoted string " + strconv.Quote(v)
	case YAMLLiteral, YAMLFolded:
		return "a block of text"
	}
	return strconv.Quote(v)
}

// suggestField says which field an unknown key of struct type t was
// probably meant to be: a field of that name one level down ("network.port"
// for a misplaced "port"), a field within two edits (ignoring case), or,
// when there are few, the list of fields.
func suggestField(key string, t reflect.Type) string {
	fields := yamlFields(t)
	for _, f := range fields {
		ft := t.Field(f.index).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct || reflect.PointerTo(ft).Implements(unmarshalerType) {
			continue
		}
		for _, sub := range yamlFields(ft) {
			if sub.name == key {
				return fmt.Sprintf(" (did you mean %q?)", f.name+"."+key)
			}
		}
	}
	best, bestDist := "", 3
	if len(key) <= 64 {
		for _, f := range fields {
			if d := editDistance(strings.ToLower(key), strings.ToLower(f.name)); d < bestDist {
				best, bestDist = f.name, d
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(fields) == 0 || len(fields) > 8 {
		return ""
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return "; expected one of: " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
