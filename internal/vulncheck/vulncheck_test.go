package vulncheck_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/vulncheck"
	"github.com/fraudscore/fraudscore/internal/vulndb"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestRead: govulncheck's stream (recorded from a real run, trimmed) gives
// one finding per id at its deepest level, called ones with the call in the
// scanned code that reaches them.
func TestRead(t *testing.T) {
	f, err := os.Open("testdata/scan.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := vulncheck.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if s.GoVersion != "go1.26.8" || s.ScannerVersion != "v1.9.0" {
		t.Errorf("config: %+v", s)
	}
	got := map[string]vulncheck.Finding{}
	for _, f := range s.Findings {
		got[f.ID] = f
	}
	if len(got) != 4 {
		t.Fatalf("findings %+v, want 4 ids", s.Findings)
	}
	x := got["GO-2021-0113"]
	if x.Level != vulncheck.LevelCalled || x.Module != "golang.org/x/text" || x.Version != "v0.3.0" ||
		x.Fixed != "v0.3.7" || x.Package != "golang.org/x/text/language" || !strings.HasPrefix(x.Trace, "example.com/vulnerable.main (") {
		t.Errorf("GO-2021-0113 = %+v", x)
	}
	if got["GO-2022-1059"].Level != vulncheck.LevelPackage || got["GO-2020-0015"].Level != vulncheck.LevelModule {
		t.Errorf("levels: %+v", s.Findings)
	}
	if std := got["GO-2026-6809"]; std.Module != vulncheck.StdlibModule || std.Level != vulncheck.LevelCalled || std.Summary == "" {
		t.Errorf("GO-2026-6809 = %+v", std)
	}

	// The gate: the called module finding always fails; the called
	// standard-library one only under FailStdlib.
	ids := func(fs []vulncheck.Finding) (out []string) {
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return out
	}
	if g := ids(vulncheck.Policy{}.Failing(s)); strings.Join(g, ",") != "GO-2021-0113" {
		t.Errorf("Failing (stdlib warns) = %v", g)
	}
	if g := ids(vulncheck.Policy{FailStdlib: true}.Failing(s)); strings.Join(g, ",") != "GO-2021-0113,GO-2026-6809" {
		t.Errorf("Failing (stdlib fails) = %v", g)
	}
	var out bytes.Buffer
	if (vulncheck.Policy{}).WriteSummary(&out, s) {
		t.Errorf("WriteSummary passed a scan with a called module vulnerability:\n%s", out.String())
	}
	for _, want := range []string{"FAIL GO-2021-0113 golang.org/x/text@v0.3.0", "WARN GO-2026-6809 stdlib@v1.26.8", "1 failing"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReadMalformed(t *testing.T) {
	for _, in := range []string{"", "not json", `{"progress":{"message":"x"}}`, `{"config":{}}{"finding":{"osv":"GO-1"}}`} {
		if _, err := vulncheck.Read(strings.NewReader(in)); !errors.Is(err, vulncheck.ErrMalformed) {
			t.Errorf("Read(%q) = %v, want ErrMalformed", in, err)
		}
	}
}

// TestGateFailsOnVulnerableDependency runs the real gate (cmd/vulncheck,
// the pinned govulncheck, the local database built from the pinned
// golang.org/x/vulndb) on testdata/vulnerable, a module that requires
// golang.org/x/text v0.3.0 on purpose and calls language.Parse: it must
// report GO-2021-0113 as called, keep it in the report and exit 3. Under
// make, the tool and database are the ones make vulncheck uses
// (FRAUDSCORE_GOVULNCHECK, FRAUDSCORE_VULNDB); alone, the test makes its own.
func TestGateFailsOnVulnerableDependency(t *testing.T) {
	tool := testenv.PinnedTool(t, "FRAUDSCORE_GOVULNCHECK", "golang.org/x/vuln/cmd/govulncheck", "GOVULNCHECK_VERSION")
	db := os.Getenv("FRAUDSCORE_VULNDB")
	if _, err := os.Stat(filepath.Join(db, "index", "modules.json")); db == "" || err != nil {
		mod, err := vulndb.Download(context.Background(), "go", testenv.MakeVar(t, "VULNDB_VERSION"))
		if err != nil {
			t.Fatal(err)
		}
		db = filepath.Join(t.TempDir(), "db")
		if _, err := vulndb.Build(context.Background(), mod.OSV(), db, mod.Time); err != nil {
			t.Fatal(err)
		}
	}
	gate := testenv.Binary(t, "./cmd/vulncheck")
	report := filepath.Join(t.TempDir(), "report.json")
	fixture, err := filepath.Abs("testdata/vulnerable")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gate, "-govulncheck", tool, "-db", db, "-report", report, "-stdlib", "warn", "-C", fixture, "./...")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("vulncheck on a vulnerable module: %v, want exit status 3\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("FAIL GO-2021-0113 golang.org/x/text@v0.3.0 golang.org/x/text/language: called")) {
		t.Errorf("output lacks the called GO-2021-0113:\n%s", out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	s, err := vulncheck.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if f := (vulncheck.Policy{}).Failing(s); len(f) != 1 || f[0].ID != "GO-2021-0113" {
		t.Errorf("report's failing findings %+v, want GO-2021-0113 only", f)
	}
}
