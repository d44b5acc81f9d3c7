// Package vulncheck reads govulncheck's JSON output (-format json, protocol
// v1) and decides whether a scan passes: the gate that make vulncheck applies
// (mk/supplychain.mk, docs/security.md "Supply chain").
//
// govulncheck reports a vulnerability at one of three levels: the module is
// required, a vulnerable package is imported, or a vulnerable function is
// called (a symbol-level finding, with a call trace). Only called findings
// fail the gate, as they make govulncheck itself exit 3. Findings in the
// standard library (module "stdlib") come from the Go toolchain that builds
// the binary rather than from go.mod, so the gate can be told to list them
// without failing (Policy.FailStdlib false) until the toolchain moves.
package vulncheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// StdlibModule is the module name govulncheck gives the standard library.
const StdlibModule = "stdlib"

// ErrMalformed reports output that is not govulncheck's JSON stream.
var ErrMalformed = errors.New("vulncheck: malformed govulncheck output")

// Level is how close a finding comes to the code: a required module, an
// imported package or a called function.
type Level int

// The levels, weakest first.
const (
	LevelModule Level = iota
	LevelPackage
	LevelCalled
)

func (l Level) String() string {
	return [...]string{"module required", "package imported", "called"}[l]
}

// Finding is one vulnerability at the deepest level govulncheck found it.
type Finding struct {
	ID      string // GO-YYYY-NNNN
	Summary string // from the OSV entry, when the scan sent it
	Module  string // module path, or StdlibModule
	Version string // the version in use
	Package string // vulnerable package, when known
	Fixed   string // first fixed version, "" when none
	Level   Level
	Trace   string // for a called finding: the outermost frame of the first trace, "pkg.Func (file:line)"
}

// Scan is what one govulncheck run reported.
type Scan struct {
	GoVersion      string
	ScannerVersion string
	DB             string
	DBModified     string
	Findings       []Finding // sorted by module, then id
}

// Read decodes a govulncheck -format json stream.
func Read(r io.Reader) (Scan, error) {
	type frame struct {
		Module, Version, Package, Function, Receiver string
		Position                                     *struct {
			Filename string
			Line     int
		}
	}
	type message struct {
		Config *struct {
			GoVersion      string `json:"go_version"`
			ScannerVersion string `json:"scanner_version"`
			DB             string `json:"db"`
			DBLastModified string `json:"db_last_modified"`
		} `json:"config"`
		OSV *struct {
			ID      string `json:"id"`
			Summary string `json:"summary"`
		} `json:"osv"`
		Finding *struct {
			OSV          string  `json:"osv"`
			FixedVersion string  `json:"fixed_version"`
			Trace        []frame `json:"trace"`
		} `json:"finding"`
	}
	var s Scan
	summaries := map[string]string{}
	best := map[string]Finding{}
	sawConfig := false
	dec := json.NewDecoder(r)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Scan{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch {
		case m.Config != nil:
			sawConfig = true
			s.GoVersion, s.ScannerVersion = m.Config.GoVersion, m.Config.ScannerVersion
			s.DB, s.DBModified = m.Config.DB, m.Config.DBLastModified
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil:
			f := m.Finding
			if f.OSV == "" || len(f.Trace) == 0 {
				return Scan{}, fmt.Errorf("%w: a finding without id or trace", ErrMalformed)
			}
			// The trace runs from the vulnerable symbol (first) out to the
			// scanned code (last).
			v := f.Trace[0]
			got := Finding{ID: f.OSV, Module: v.Module, Version: v.Version, Package: v.Package, Fixed: f.FixedVersion}
			switch {
			case v.Function != "":
				got.Level = LevelCalled
				out := f.Trace[len(f.Trace)-1]
				got.Trace = out.Package + "." + out.Function
				if out.Position != nil {
					got.Trace += fmt.Sprintf(" (%s:%d)", out.Position.Filename, out.Position.Line)
				}
			case v.Package != "":
				got.Level = LevelPackage
			}
			key := f.OSV + " " + v.Module
			if prev, ok := best[key]; !ok || got.Level > prev.Level {
				best[key] = got
			}
		}
	}
	if !sawConfig {
		return Scan{}, fmt.Errorf("%w: no config message", ErrMalformed)
	}
	for _, f := range best {
		f.Summary = summaries[f.ID]
		s.Findings = append(s.Findings, f)
	}
	sort.Slice(s.Findings, func(i, j int) bool {
		a, b := s.Findings[i], s.Findings[j]
		if a.Module != b.Module {
			return a.Module < b.Module
		}
		return a.ID < b.ID
	})
	return s, nil
}

// Policy says which findings fail the gate.
type Policy struct {
	// FailStdlib makes called standard-library findings fail the gate too;
	// when false they are listed as warnings.
	FailStdlib bool
}

// Failing returns the findings that fail the gate under p: every called
// finding in a module, and in the standard library when p.FailStdlib.
func (p Policy) Failing(s Scan) []Finding {
	var out []Finding
	for _, f := range s.Findings {
		if f.Level == LevelCalled && (f.Module != StdlibModule || p.FailStdlib) {
			out = append(out, f)
		}
	}
	return out
}

// WriteSummary writes one line per finding (called ones with the call that
// reaches them) and a verdict line; it returns whether the gate passes.
func (p Policy) WriteSummary(w io.Writer, s Scan) bool {
	fmt.Fprintf(w, "vulncheck: govulncheck %s, %s, database %s (modified %s)\n", s.ScannerVersion, s.GoVersion, s.DB, s.DBModified)
	failing := map[string]bool{}
	for _, f := range p.Failing(s) {
		failing[f.ID+" "+f.Module] = true
	}
	var called, stdlibCalled int
	for _, f := range s.Findings {
		mark := "  info"
		switch {
		case failing[f.ID+" "+f.Module]:
			mark = "  FAIL"
		case f.Level == LevelCalled:
			mark = "  WARN"
		}
		if f.Level == LevelCalled {
			called++
			if f.Module == StdlibModule {
				stdlibCalled++
			}
		}
		fixed := f.Fixed
		if fixed == "" {
			fixed = "no fix"
		}
		fmt.Fprintf(w, "%s %s %s@%s %s: %s (fixed in %s) %s", mark, f.ID, f.Module, f.Version, f.Package, f.Level, fixed, f.Summary)
		if f.Trace != "" {
			fmt.Fprintf(w, " <- %s", f.Trace)
		}
		fmt.Fprintln(w)
	}
	n := len(failing)
	fmt.Fprintf(w, "vulncheck: %d findings, %d called (%d in the standard library of %s), %d failing\n", len(s.Findings), called, stdlibCalled, s.GoVersion, n)
	if stdlibCalled > 0 && !p.FailStdlib {
		fmt.Fprintf(w, "vulncheck: WARNING: %s has %d called standard-library vulnerabilities: build with a Go that has the fixes (docs/security.md \"Supply chain\")\n", s.GoVersion, stdlibCalled)
	}
	return n == 0
}
