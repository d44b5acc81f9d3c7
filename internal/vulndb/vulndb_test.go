package vulndb_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/vulndb"
)

var stampTime = time.Date(2099, 2, 1, 0, 0, 0, 0, time.UTC)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestBuildLayout: the v1 layout govulncheck's file:// client reads, with
// the indexes x/vulndb computes (newest modified time, latest fixed version
// per affected module, "" when reintroduced), zero times stamped and every
// other field of an entry kept.
func TestBuildLayout(t *testing.T) {
	out := filepath.Join(t.TempDir(), "db")
	res, err := vulndb.Build(context.Background(), "testdata/osv", out, stampTime)
	if err != nil {
		t.Fatal(err)
	}
	want := vulndb.Result{Entries: 2, Modules: 2, Modified: time.Date(2099, 3, 4, 5, 6, 7, 0, time.UTC)}
	if !res.Modified.Equal(want.Modified) || res.Entries != want.Entries || res.Modules != want.Modules {
		t.Fatalf("Build = %+v, want %+v", res, want)
	}

	var db map[string]string
	readJSON(t, filepath.Join(out, "index", "db.json"), &db)
	if db["modified"] != "2099-03-04T05:06:07Z" {
		t.Errorf("db.json = %v", db)
	}

	type vuln struct{ ID, Modified, Fixed string }
	var mods []struct {
		Path  string
		Vulns []vuln
	}
	readJSON(t, filepath.Join(out, "index", "modules.json"), &mods)
	a := []vuln{
		{"GO-2099-0001", "2099-02-01T00:00:00Z", "1.10.1"}, // 1.10.1 > 1.2.0 numerically
		{"GO-2099-0002", "2099-03-04T05:06:07Z", ""},
	}
	b := []vuln{{"GO-2099-0001", "2099-02-01T00:00:00Z", "0.0.0-20210101000000-abcdefabcdef"}}
	if len(mods) != 2 || mods[0].Path != "example.com/a" || !reflect.DeepEqual(mods[0].Vulns, a) ||
		mods[1].Path != "example.com/b" || !reflect.DeepEqual(mods[1].Vulns, b) {
		t.Errorf("modules.json = %+v", mods)
	}

	var vulns []struct {
		ID      string
		Aliases []string
	}
	readJSON(t, filepath.Join(out, "index", "vulns.json"), &vulns)
	if len(vulns) != 2 || vulns[0].ID != "GO-2099-0001" || !reflect.DeepEqual(vulns[0].Aliases, []string{"CVE-2099-0001"}) {
		t.Errorf("vulns.json = %+v", vulns)
	}

	var e map[string]any
	readJSON(t, filepath.Join(out, "ID", "GO-2099-0001.json"), &e)
	if e["modified"] != "2099-02-01T00:00:00Z" || e["published"] != "2099-01-02T00:00:00Z" || e["x_unknown"] == nil {
		t.Errorf("ID/GO-2099-0001.json = %v", e)
	}
	if _, err := os.Stat(out + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory left behind: %v", err)
	}
}

// TestBuildRejectsMismatchedID: a file whose id is not its name would be
// unreachable by govulncheck (it asks for ID/<id>.json); Build refuses it
// and leaves the previous database in place.
func TestBuildRejectsMismatchedID(t *testing.T) {
	out := filepath.Join(t.TempDir(), "db")
	if _, err := vulndb.Build(context.Background(), "testdata/osv", out, stampTime); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	b, err := os.ReadFile("testdata/osv/GO-2099-0002.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "GO-2099-0003.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = vulndb.Build(context.Background(), src, out, stampTime)
	if !errors.Is(err, vulndb.ErrInvalid) {
		t.Fatalf("Build = %v, want ErrInvalid", err)
	}
	if _, err := os.Stat(filepath.Join(out, "ID", "GO-2099-0001.json")); err != nil {
		t.Errorf("the previous database is gone: %v", err)
	}
}

// TestBuildFromModule builds the database from the pinned golang.org/x/vulndb
// module (through the Go module proxy or the module cache) and checks it
// holds a known entry for a known module.
func TestBuildFromModule(t *testing.T) {
	mod, err := vulndb.Download(context.Background(), "go", testenv.MakeVar(t, "VULNDB_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "db")
	res, err := vulndb.Build(context.Background(), mod.OSV(), out, mod.Time)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries < 1000 || !res.Modified.Equal(mod.Time) {
		t.Errorf("Build = %+v from %s (module time %s)", res, mod.Version, mod.Time)
	}
	var mods []struct {
		Path  string
		Vulns []struct{ ID, Fixed string }
	}
	readJSON(t, filepath.Join(out, "index", "modules.json"), &mods)
	found := false
	for _, m := range mods {
		for _, v := range m.Vulns {
			found = found || (m.Path == "golang.org/x/text" && v.ID == "GO-2021-0113" && v.Fixed == "0.3.7")
		}
	}
	if !found {
		t.Error("modules.json lacks golang.org/x/text GO-2021-0113 fixed in 0.3.7")
	}
}
