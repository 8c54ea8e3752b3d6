package spec

import (
	"errors"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file decodes scalars onto strings, booleans, numbers and durations.

func (d *yamlDecoder) decodeScalar(n *YAMLNode, v reflect.Value, path string) {
	expected := expectedScalar(v.Type())
	if n.Kind != YAMLScalar {
		d.mismatch(n, path, expected)
		return
	}
	if v.Type() == durationType {
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.mismatch(n, path, expected)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	if v.Kind() == reflect.String {
		v.SetString(n.Value)
		return
	}
	// Booleans and numbers must be written plain: a quoted "8000" is text,
	// as it is in every YAML library.
	if n.Style != YAMLPlain {
		d.mismatch(n, path, expected)
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		if n.Value != "true" && n.Value != "false" {
			d.mismatch(n, path, expected)
			return
		}
		v.SetBool(n.Value == "true")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		neg, mag, ok := parseYAMLInt(n.Value)
		if !ok {
			d.mismatch(n, path, expected)
			return
		}
		bits := v.Type().Bits()
		limit := uint64(1) << (bits - 1) // |min|; max is limit-1
		if (neg && mag > limit) || (!neg && mag > limit-1) {
			d.add(path, n.Line, "%s is out of range: must be between %d and %d", n.Value, -int64(limit-1)-1, int64(limit-1))
			return
		}
		if neg {
			v.SetInt(int64(-mag))
		} else {
			v.SetInt(int64(mag))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		neg, mag, ok := parseYAMLInt(n.Value)
		if !ok {
			d.mismatch(n, path, expected)
			return
		}
		limit := uint64(math.MaxUint64) >> (64 - v.Type().Bits())
		if (neg && mag != 0) || mag > limit {
			d.add(path, n.Line, "%s is out of range: must be between 0 and %d", n.Value, limit)
			return
		}
		v.SetUint(mag)
	case reflect.Float32, reflect.Float64:
		f, ok, inRange := parseYAMLFloat(n.Value, v.Type().Bits())
		switch {
		case !ok:
			d.mismatch(n, path, expected)
		case !inRange:
			d.add(path, n.Line, "%s is out of range for a number", n.Value)
		default:
			v.SetFloat(f)
		}
	}
}

// expectedScalar says, for messages, what a scalar type takes.
func expectedScalar(t reflect.Type) string {
	if t == durationType {
		return `a duration such as "30s" or "1m30s"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

// parseYAMLInt parses a YAML 1.2 integer: decimal with an optional sign, or
// hexadecimal (0x) or octal (0o). A decimal with a leading zero is refused:
// YAML 1.1 (and so some tools) read 0644 as octal, others as decimal, and a
// config file must not mean two things.
func parseYAMLInt(s string) (neg bool, mag uint64, ok bool) {
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(body, "0x"):
		base, body = 16, body[2:]
	case strings.HasPrefix(body, "0o"):
		base, body = 8, body[2:]
	case len(body) > 1 && body[0] == '0':
		return false, 0, false
	}
	// ParseUint with an explicit base accepts neither signs nor
	// underscores, so only digits get through.
	mag, err := strconv.ParseUint(body, base, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return neg, math.MaxUint64, true
		}
		return false, 0, false
	}
	return neg, mag, true
}

// yamlFloatRE is YAML 1.2's core-schema float (and integer) syntax.
var yamlFloatRE = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// parseYAMLFloat parses a YAML 1.2 float, including .inf and .nan.
func parseYAMLFloat(s string, bits int) (f float64, ok, inRange bool) {
	sign, body := "", s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		sign, body = body[:1], body[1:]
	}
	switch body {
	case ".inf", ".Inf", ".INF":
		if sign == "-" {
			return math.Inf(-1), true, true
		}
		return math.Inf(1), true, true
	case ".nan", ".NaN", ".NAN":
		return math.NaN(), sign == "", true
	}
	if !yamlFloatRE.MatchString(s) {
		return 0, false, false
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, true, false
	}
	return f, true, true
}
