// Package figures checks that the figures quoted in Markdown documents match
// the raw outputs committed beside them.
//
// A quoted figure carries a marker, an HTML comment that renders as nothing,
// placed right after it:
//
//	backlog cleared at **54 845**<!-- fig docs/bench/latest.json results[name="fraudscore backlog"].report.backlog_throughput --> verdicts/s
//
// The marker names a source file (relative to the repository root) and a
// selector into it, optionally followed by a scale (` /1048576` turns bytes
// into MiB, ` *100` a ratio into a percentage). The figure is the last number
// between the previous marker (or the start of the line) and this one; it
// matches when the source's value, scaled, rounds to it at the precision it
// is written with (0.70 matches 0.7049, 54 845 matches 54845.4; a k or M
// suffix multiplies by 1e3 or 1e6 and rounds at that precision).
//
// Sources are JSON (selectors are dotted paths with [N] indexes,
// [key="value"] filters on arrays of objects and ["a.b"] for keys that hold
// a dot) or Go benchmark output
// (selectors are "BenchmarkName unit", the median over every line of that
// benchmark).
//
// A measured-looking figure (a number with a unit of time, rate or memory)
// without a marker is reported too, so a hand-typed figure cannot slip in;
// code spans and fenced blocks are not figures. A configured value, limit,
// target or offered load is not a measurement: `<!-- setting -->` after it
// says so.
package figures

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Sentinel errors; every error the package returns wraps one of them.
var (
	// ErrMismatch: a quoted figure differs from its source.
	ErrMismatch = errors.New("figures: quoted figure does not match its source")
	// ErrUnmarked: a measured-looking figure carries no marker.
	ErrUnmarked = errors.New("figures: figure without a source marker")
	// ErrMarker: a marker is malformed, names no figure, or its source or
	// selector cannot be read.
	ErrMarker = errors.New("figures: bad marker")
)

// Figure is one quoted figure and the marker after it.
type Figure struct {
	Line     int     // 1-based line in the document
	Start    int     // byte offset of Quoted in its line
	Quoted   string  // the figure as written
	Value    float64 // Quoted parsed (separators removed, suffix applied)
	Decimals int     // precision Quoted is written with, in units of Value
	Source   string  // source path relative to the repository root
	Selector string  // JSON path or "BenchmarkName unit"
	Scale    float64 // multiplier applied to the source's value
}

var (
	markerRE = regexp.MustCompile(`<!--\s*(fig|setting)\b\s*(.*?)\s*-->`)
	// A number: digit groups separated by a space, comma, no-break or thin
	// space, or plain digits; optional fraction; optional k or M suffix.
	numberRE = regexp.MustCompile(`(\d{1,3}(?:[ ,\x{00a0}\x{202f}]\d{3})+|\d+)(\.\d+)?([kM]?)`)
	// A measured-looking figure: a number followed by a unit of latency,
	// rate or memory.
	unitRE  = regexp.MustCompile(`(\d{1,3}(?:[ ,\x{00a0}\x{202f}]\d{3})+|\d+)(\.\d+)?[kM]?\**\s?(ms|µs|us|ns|MiB|KiB|GiB|MB|KB|GB|(?:verdicts|tx|msgs|transactions|events|requests)?/s)\b`)
	scaleRE = regexp.MustCompile(`\s+([/*])([0-9.eE+]+)$`)
	spanRE  = regexp.MustCompile("`[^`]*`")
)

// Problem is one finding in a document.
type Problem struct {
	Line int
	Err  error
}

func (p Problem) Error() string { return fmt.Sprintf("line %d: %v", p.Line, p.Err) }

// Scan returns the figures that text marks and the problems found while
// reading it: unmarked measured-looking figures and malformed markers.
func Scan(text string) ([]Figure, []Problem) {
	var figs []Figure
	var probs []Problem
	inFence := false
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		// Blank out code spans, keeping offsets; a marker inside one would be
		// blanked with it and its figure never checked, so that is an error.
		line = spanRE.ReplaceAllStringFunc(line, func(s string) string {
			if markerRE.MatchString(s) {
				probs = append(probs, Problem{n, fmt.Errorf("%w: a marker inside a code span is never checked: %q", ErrMarker, s)})
			}
			return strings.Repeat(" ", len(s))
		})
		marks := markerRE.FindAllStringSubmatchIndex(line, -1)
		prev := 0
		for _, m := range marks {
			if line[m[2]:m[3]] == "setting" {
				prev = m[1]
				continue
			}
			f, err := parseMarker(line[m[4]:m[5]])
			if err != nil {
				probs = append(probs, Problem{n, err})
				prev = m[1]
				continue
			}
			nums := numberRE.FindAllStringSubmatchIndex(line[prev:m[0]], -1)
			if len(nums) == 0 {
				probs = append(probs, Problem{n, fmt.Errorf("%w: no figure before %q", ErrMarker, line[m[0]:m[1]])})
				prev = m[1]
				continue
			}
			last := nums[len(nums)-1]
			seg := line[prev:m[0]]
			f.Line = n
			f.Start = prev + last[0]
			f.Quoted = seg[last[0]:last[1]]
			f.Value, f.Decimals = parseNumber(seg[last[2]:last[3]], sub(seg, last[4], last[5]), sub(seg, last[6], last[7]))
			figs = append(figs, f)
			prev = m[1]
		}
		// Markers' own text (selectors such as "fraudscore 5k/s") is not prose.
		swept := []byte(line)
		for _, m := range marks {
			for i := m[0]; i < m[1]; i++ {
				swept[i] = ' '
			}
		}
		for _, u := range unitRE.FindAllIndex(swept, -1) {
			if !markedAfter(line, u[1], marks) {
				probs = append(probs, Problem{n, fmt.Errorf("%w: %q", ErrUnmarked, line[u[0]:u[1]])})
			}
		}
	}
	return figs, probs
}

func sub(s string, i, j int) string {
	if i < 0 {
		return ""
	}
	return s[i:j]
}

// markedAfter reports whether a marker follows position end on the line with
// no other digit in between.
func markedAfter(line string, end int, marks [][]int) bool {
	for _, m := range marks {
		if m[0] < end {
			continue
		}
		return !strings.ContainsAny(line[end:m[0]], "0123456789")
	}
	return false
}

func parseMarker(body string) (Figure, error) {
	f := Figure{Scale: 1}
	src, rest, ok := strings.Cut(strings.TrimSpace(body), " ")
	if !ok || strings.TrimSpace(rest) == "" {
		return f, fmt.Errorf("%w: want \"fig SOURCE SELECTOR [/N|*N]\", got %q", ErrMarker, body)
	}
	rest = strings.TrimSpace(rest)
	if m := scaleRE.FindStringSubmatch(rest); m != nil {
		k, err := strconv.ParseFloat(m[2], 64)
		if err != nil || k == 0 {
			return f, fmt.Errorf("%w: scale %q", ErrMarker, m[0])
		}
		if m[1] == "/" {
			k = 1 / k
		}
		f.Scale = k
		rest = strings.TrimSpace(rest[:len(rest)-len(m[0])])
	}
	f.Source, f.Selector = src, rest
	return f, nil
}

// parseNumber turns the parts of a numberRE match into a value and the
// number of decimals it is written with (negative for a k or M suffix).
func parseNumber(intPart, frac, suffix string) (float64, int) {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, intPart)
	v, _ := strconv.ParseFloat(digits+frac, 64)
	dec := 0
	if frac != "" {
		dec = len(frac) - 1
	}
	switch suffix {
	case "k":
		v *= 1e3
		dec -= 3
	case "M":
		v *= 1e6
		dec -= 6
	}
	return v, dec
}

// Matches reports whether the source value v, scaled, rounds to the figure.
func (f Figure) Matches(v float64) bool {
	unit := math.Pow(10, -float64(f.Decimals))
	return math.Abs(v*f.Scale-f.Value) <= unit/2*(1+1e-9)
}

// CheckFile scans the document at root/doc and resolves every marker against
// its source; it returns every problem found (nil when the document is
// consistent) and the number of figures checked.
func CheckFile(root, doc string) (int, []Problem) {
	text, err := os.ReadFile(filepath.Join(root, doc))
	if err != nil {
		return 0, []Problem{{0, fmt.Errorf("%w: %w", ErrMarker, err)}}
	}
	figs, probs := Scan(string(text))
	cache := map[string]source{}
	for _, f := range figs {
		v, err := resolve(root, f, cache)
		if err != nil {
			probs = append(probs, Problem{f.Line, err})
			continue
		}
		if !f.Matches(v) {
			probs = append(probs, Problem{f.Line, fmt.Errorf("%w: %q, but %s %s is %g (scaled: %g)", ErrMismatch, f.Quoted, f.Source, f.Selector, v, v*f.Scale)})
		}
	}
	return len(figs), probs
}

// Format writes the source value v as the figure is written: scaled, at the
// same precision, with the same k or M suffix and digit-group separator.
func (f Figure) Format(v float64) string {
	x, dec, suffix := v*f.Scale, f.Decimals, ""
	switch {
	case strings.HasSuffix(f.Quoted, "k"):
		x, dec, suffix = x/1e3, dec+3, "k"
	case strings.HasSuffix(f.Quoted, "M"):
		x, dec, suffix = x/1e6, dec+6, "M"
	}
	out := strconv.FormatFloat(x, 'f', max(dec, 0), 64)
	intPart, frac, _ := strings.Cut(out, ".")
	if sep := groupSeparator(f.Quoted); sep != "" && len(intPart) > 3 {
		var b strings.Builder
		for i, r := range intPart {
			if i > 0 && (len(intPart)-i)%3 == 0 {
				b.WriteString(sep)
			}
			b.WriteRune(r)
		}
		intPart = b.String()
	}
	if frac != "" {
		intPart += "." + frac
	}
	return intPart + suffix
}

// groupSeparator returns the digit-group separator a quoted figure uses.
func groupSeparator(q string) string {
	intPart, _, _ := strings.Cut(q, ".")
	for _, r := range intPart {
		if r < '0' || r > '9' {
			if r == 'k' || r == 'M' {
				return ""
			}
			return string(r)
		}
	}
	return ""
}

// UpdateFile rewrites every marked figure in root/doc that differs from its
// source with the source's value, written as the figure was (Format). It is
// for re-quoting after a new measurement; it returns the figures changed and
// the problems that stopped it from resolving others.
func UpdateFile(root, doc string) (int, []Problem) {
	path := filepath.Join(root, doc)
	text, err := os.ReadFile(path)
	if err != nil {
		return 0, []Problem{{0, fmt.Errorf("%w: %w", ErrMarker, err)}}
	}
	figs, _ := Scan(string(text))
	lines := strings.Split(string(text), "\n")
	var probs []Problem
	changed := 0
	cache := map[string]source{}
	for i := len(figs) - 1; i >= 0; i-- { // right to left keeps offsets valid
		f := figs[i]
		v, err := resolve(root, f, cache)
		if err != nil {
			probs = append(probs, Problem{f.Line, err})
			continue
		}
		if f.Matches(v) {
			continue
		}
		line := lines[f.Line-1]
		lines[f.Line-1] = line[:f.Start] + f.Format(v) + line[f.Start+len(f.Quoted):]
		changed++
	}
	if changed > 0 {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			probs = append(probs, Problem{0, err})
		}
	}
	return changed, probs
}

// resolve reads a figure's value from its source, opening each source once.
func resolve(root string, f Figure, cache map[string]source) (float64, error) {
	src, ok := cache[f.Source]
	if !ok {
		var err error
		if src, err = openSource(filepath.Join(root, f.Source)); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrMarker, err)
		}
		cache[f.Source] = src
	}
	v, err := src.lookup(f.Selector)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %s: %w", ErrMarker, f.Source, f.Selector, err)
	}
	return v, nil
}
