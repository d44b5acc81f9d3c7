// Package vulndb builds a Go vulnerability database in the v1 layout that
// govulncheck reads with -db file:///DIR, offline, from the OSV reports that
// the golang.org/x/vulndb module ships in data/osv/GO-*.json.
//
// The layout is the one x/vulndb's own generator writes (its cmd/gendb and
// internal/database): index/db.json (the newest modification time),
// index/modules.json (per module: the ids of its vulnerabilities with their
// modification time and latest fixed version), index/vulns.json (ids and
// aliases) and ID/<id>.json (each OSV entry as published). govulncheck's
// file:// client reads the plain .json files, so no .gz copies are written.
//
// The module's OSV files carry a zero "modified" time: x/vulndb sets it from
// git history when it publishes the database, and a module zip has no git
// history. Build stamps every zero time with the module's commit time (the
// time of its pseudo-version), which is an upper bound of the real one.
package vulndb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ModulePath is the module that carries the Go vulnerability database's
// OSV reports.
const ModulePath = "golang.org/x/vulndb"

// OSVDir is where ModulePath keeps one OSV file per vulnerability.
const OSVDir = "data/osv"

// ErrInvalid reports an OSV file that cannot go into the database: not
// JSON, no id, an id that does not match its file name, or an id twice.
var ErrInvalid = errors.New("vulndb: invalid OSV entry")

// Result says what Build wrote.
type Result struct {
	Entries  int       // ID/<id>.json files
	Modules  int       // modules in index/modules.json
	Modified time.Time // index/db.json's modified time
}

// entry is the part of an OSV entry the indexes need; the entry itself is
// written back as it came, with only "modified" filled in.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

// dbMeta is index/db.json.
type dbMeta struct {
	Modified time.Time `json:"modified"`
}

// moduleVuln is one row of index/modules.json.
type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type moduleIndex struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vulnIndex struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// Build reads every <id>.json in osvDir and writes the v1 database into
// outDir, replacing what was there. Entries whose modified time is zero get
// modified. The database is written beside outDir first and renamed into
// place, so an interrupted build never leaves a half database behind.
func Build(ctx context.Context, osvDir, outDir string, modified time.Time) (Result, error) {
	names, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return Result{}, fmt.Errorf("vulndb: list %s: %w", osvDir, err)
	}
	if len(names) == 0 {
		return Result{}, fmt.Errorf("vulndb: no OSV files in %s: %w", osvDir, os.ErrNotExist)
	}
	sort.Strings(names)

	tmp := outDir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return Result{}, fmt.Errorf("vulndb: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "ID"), 0o755); err != nil {
		return Result{}, fmt.Errorf("vulndb: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "index"), 0o755); err != nil {
		return Result{}, fmt.Errorf("vulndb: %w", err)
	}

	var res Result
	modules := map[string]*moduleIndex{}
	seen := map[string]bool{}
	var vulns []vulnIndex
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		raw, err := os.ReadFile(name)
		if err != nil {
			return Result{}, fmt.Errorf("vulndb: %w", err)
		}
		e, out, err := stamp(raw, modified)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %s: %v", ErrInvalid, filepath.Base(name), err)
		}
		if want := e.ID + ".json"; filepath.Base(name) != want {
			return Result{}, fmt.Errorf("%w: %s holds %s", ErrInvalid, filepath.Base(name), e.ID)
		}
		if seen[e.ID] {
			return Result{}, fmt.Errorf("%w: %s twice", ErrInvalid, e.ID)
		}
		seen[e.ID] = true
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), out, 0o644); err != nil {
			return Result{}, fmt.Errorf("vulndb: %w", err)
		}
		res.Entries++
		if e.Modified.After(res.Modified) {
			res.Modified = e.Modified
		}
		vulns = append(vulns, vulnIndex{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &moduleIndex{Path: a.Package.Name}
				modules[a.Package.Name] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFixed(a.Ranges)})
		}
	}

	mods := make([]*moduleIndex, 0, len(modules))
	for _, m := range modules {
		sort.SliceStable(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	res.Modules = len(mods)

	for file, v := range map[string]any{
		"db.json":      dbMeta{Modified: res.Modified},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return Result{}, fmt.Errorf("vulndb: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", file), b, 0o644); err != nil {
			return Result{}, fmt.Errorf("vulndb: %w", err)
		}
	}

	if err := os.RemoveAll(outDir); err != nil {
		return Result{}, fmt.Errorf("vulndb: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(outDir), 0o755); err != nil {
		return Result{}, fmt.Errorf("vulndb: %w", err)
	}
	if err := os.Rename(tmp, outDir); err != nil {
		return Result{}, fmt.Errorf("vulndb: %w", err)
	}
	return res, nil
}

// stamp decodes one OSV entry and returns it with a zero "modified" set to
// modified, re-encoded with every other field kept as it was.
func stamp(raw []byte, modified time.Time) (entry, []byte, error) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return entry{}, nil, err
	}
	if e.ID == "" {
		return entry{}, nil, errors.New("no id")
	}
	if !e.Modified.IsZero() {
		return e, raw, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return entry{}, nil, err
	}
	e.Modified = modified.UTC()
	m, err := json.Marshal(e.Modified)
	if err != nil {
		return entry{}, nil, err
	}
	fields["modified"] = m
	out, err := json.Marshal(fields)
	if err != nil {
		return entry{}, nil, err
	}
	return e, out, nil
}

// latestFixed is the latest "fixed" version of the SEMVER ranges, or "" when
// the vulnerability was introduced again after it (no fixed version), as
// x/vulndb's osvutils.LatestFixed computes it.
func latestFixed(ranges []osvRange) string {
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, ev := range r.Events {
			if ev.Fixed != "" && compareSemver(latest, ev.Fixed) < 0 {
				latest = ev.Fixed
			}
		}
		for _, ev := range r.Events {
			if ev.Introduced != "" && ev.Introduced != "0" && compareSemver(latest, ev.Introduced) < 0 {
				latest = ""
				break
			}
		}
	}
	return latest
}
