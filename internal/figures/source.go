package figures

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// errSelector: a selector that names nothing in its source.
var errSelector = errors.New("selector matches nothing")

// source is a parsed raw output that a selector reads one number from.
type source interface {
	lookup(selector string) (float64, error)
}

func openSource(path string) (source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return jsonSource{v}, nil
	}
	return benchSource(string(data)), nil
}

// jsonSource reads dotted paths: a.b[2].c, or [key="value"] to pick the one
// element of an array of objects whose key has that value.
type jsonSource struct{ root any }

func (s jsonSource) lookup(sel string) (float64, error) {
	cur := s.root
	rest := sel
	for rest != "" {
		var step string
		switch rest[0] {
		case '.':
			rest = rest[1:]
			continue
		case '[':
			end := closingBracket(rest)
			if end < 0 {
				return 0, fmt.Errorf("unclosed [ in %q", sel)
			}
			step, rest = rest[:end+1], rest[end+1:]
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			step, rest = rest[:end], rest[end:]
		}
		next, err := stepInto(cur, step)
		if err != nil {
			return 0, fmt.Errorf("at %s: %w", step, err)
		}
		cur = next
	}
	switch v := cur.(type) {
	case float64:
		return v, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%q is %T, not a number", sel, cur)
}

// closingBracket returns the index of the ] that closes s[0] == '[',
// skipping quoted strings.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ']':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

func stepInto(cur any, step string) (any, error) {
	if !strings.HasPrefix(step, "[") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("not an object")
		}
		v, ok := m[step]
		if !ok {
			return nil, errSelector
		}
		return v, nil
	}
	inner := step[1 : len(step)-1]
	if key, err := strconv.Unquote(inner); err == nil {
		// ["p99.9"]: an object key that holds a dot.
		return stepInto(cur, key)
	}
	arr, ok := cur.([]any)
	if !ok {
		return nil, fmt.Errorf("not an array")
	}
	if key, val, ok := strings.Cut(inner, "="); ok {
		want, err := strconv.Unquote(val)
		if err != nil {
			want = val
		}
		var found any
		n := 0
		for _, e := range arr {
			if m, ok := e.(map[string]any); ok && fmt.Sprint(m[key]) == want {
				found, n = e, n+1
			}
		}
		switch n {
		case 0:
			return nil, errSelector
		case 1:
			return found, nil
		}
		return nil, fmt.Errorf("%d elements match, want one", n)
	}
	i, err := strconv.Atoi(inner)
	if err != nil || i < 0 || i >= len(arr) {
		return nil, fmt.Errorf("index %q out of range (%d elements)", inner, len(arr))
	}
	return arr[i], nil
}

// benchSource is Go benchmark output ("BenchmarkX-2  N  V unit  V unit ...").
type benchSource string

func (s benchSource) lookup(sel string) (float64, error) {
	name, unit, ok := strings.Cut(strings.TrimSpace(sel), " ")
	if !ok {
		return 0, fmt.Errorf("want \"BenchmarkName unit\", got %q", sel)
	}
	var vals []float64
	for _, line := range strings.Split(string(s), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !sameBenchmark(f[0], name) {
			continue
		}
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == unit {
				if v, err := strconv.ParseFloat(f[i], 64); err == nil {
					vals = append(vals, v)
				}
			}
		}
	}
	if len(vals) == 0 {
		return 0, errSelector
	}
	sort.Float64s(vals)
	if len(vals)%2 == 1 {
		return vals[len(vals)/2], nil
	}
	return (vals[len(vals)/2-1] + vals[len(vals)/2]) / 2, nil
}

// sameBenchmark compares a result line's name (with its -GOMAXPROCS suffix)
// to a selector's name (with or without it).
func sameBenchmark(got, want string) bool {
	if got == want {
		return true
	}
	i := strings.LastIndexByte(got, '-')
	if i < 0 {
		return false
	}
	if _, err := strconv.Atoi(got[i+1:]); err != nil {
		return false
	}
	return got[:i] == want
}
