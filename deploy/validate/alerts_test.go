package validate

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"sigs.k8s.io/yaml"
)

// Paths of the alert rules, their promtool unit tests and the runbooks, from
// the repository root.
const (
	alertsFile     = "deploy/prometheus/alerts.yaml"
	alertTestsFile = "deploy/prometheus/alerts_test.yaml"
	runbooksFile   = "docs/runbooks.md"
	// runbookBase is where runbook_url annotations point: the repository's
	// files on GitHub; the rest of the URL is a path from the root.
	runbookBase = "https://github.com/fraudscore/fraudscore/blob/main/"
)

// rule is one alerting or recording rule of alerts.yaml.
type rule struct {
	Alert, Record, Expr string
	Annotations         map[string]string
}

// alertRules reads the rules of alerts.yaml, in file order.
func alertRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), alertsFile))
	if err != nil {
		t.Fatal(err)
	}
	var rf struct{ Groups []struct{ Rules []rule } }
	// Fields this test does not model (for, labels) are ignored;
	// TestPromtoolCheckRules checks the whole file.
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatal(err)
	}
	var out []rule
	for _, g := range rf.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
	return out
}

// alertExprs lists the PromQL of the alert rules by "alert <name>".
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range alertRules(t) {
		out["alert "+r.Alert+r.Record] = r.Expr
	}
	return out
}

// promtool runs promtool with args in dir and returns its combined output.
func promtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(needTool(t, "promtool", "prometheus"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(bytes.TrimSpace(out)), err
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := promtool(t, testenv.RepoRoot(t), "check", "rules", alertsFile)
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Log(out)
	// The alerts are all there.
	exprs := alertExprs(t)
	for _, want := range []string{"ErrorRate", "DeadLetters", "Latency", "Backlog", "ModelTooOld", "ModelReloadFailed", "NoReadyWorkers"} {
		found := false
		for k := range exprs {
			found = found || strings.Contains(k, want)
		}
		if !found {
			t.Errorf("no alert named *%s*", want)
		}
	}
}

// TestAlertRuleUnitTests runs the promtool unit tests of the alert rules and
// checks that every alert of alerts.yaml has a case in which it fires.
func TestAlertRuleUnitTests(t *testing.T) {
	out, err := promtool(t, testenv.RepoRoot(t), "test", "rules", alertTestsFile)
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Log(out)

	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), alertTestsFile))
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		}
	}
	if err := yaml.Unmarshal(data, &tf); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, c := range tf.Tests {
		for _, a := range c.AlertRuleTest {
			fires[a.Alertname] = fires[a.Alertname] || len(a.ExpAlerts) > 0
		}
	}
	for _, r := range alertRules(t) {
		if r.Alert != "" && !fires[r.Alert] {
			t.Errorf("alert %s has no unit test in %s in which it fires", r.Alert, alertTestsFile)
		}
	}
}

// errorRateBeforeFix is FraudscoreErrorRateHigh as it was: the sum of two
// vectors that do not exist until their first event is empty while either
// is missing, so dead letters alone never fired it.
const errorRateBeforeFix = `(
  sum by (namespace) (rate(model_predictions_total{status="error"}[5m]))
  + sum by (namespace) (rate(fraudscore_dead_letters_total[5m]))
)
/
clamp_min(sum by (namespace) (rate(fraudscore_messages_received_total[5m])), 1e-9)
> 0.01
`

// TestAlertUnitTestsCatchEmptyVectorSum shows the unit tests can fail: with
// the rule as it was before the fix, the dead-letters-alone and
// scoring-errors-alone cases must fail.
func TestAlertUnitTestsCatchEmptyVectorSum(t *testing.T) {
	root := testenv.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, alertsFile))
	if err != nil {
		t.Fatal(err)
	}
	var rf map[string]any
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatal(err)
	}
	replaced := 0
	for _, g := range rf["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			if m := r.(map[string]any); m["alert"] == "FraudscoreErrorRateHigh" {
				m["expr"] = errorRateBeforeFix
				replaced++
			}
		}
	}
	if replaced != 1 {
		t.Fatalf("found FraudscoreErrorRateHigh %d times in %s, want once", replaced, alertsFile)
	}
	broken, err := yaml.Marshal(rf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests, err := os.ReadFile(filepath.Join(root, alertTestsFile))
	if err != nil {
		t.Fatal(err)
	}
	// The test file names its rules as "alerts.yaml", relative to itself.
	for name, content := range map[string][]byte{filepath.Base(alertsFile): broken, filepath.Base(alertTestsFile): tests} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := promtool(t, dir, "test", "rules", filepath.Base(alertTestsFile))
	if err == nil {
		t.Fatalf("promtool test rules passed with the unfixed FraudscoreErrorRateHigh:\n%s", out)
	}
	for _, want := range []string{
		"error rate fires on dead letters alone (no scoring-error series)",
		"error rate fires on scoring errors alone (no dead-letter series)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("promtool did not report the case %q as failed:\n%s", want, out)
		}
	}
}

// TestRunbookURLs checks that every alert has a runbook_url naming a heading
// of docs/runbooks.md, and that every heading there is an alert's.
func TestRunbookURLs(t *testing.T) {
	root := testenv.RepoRoot(t)
	anchors := map[string]map[string]bool{} // file -> anchors of its headings
	alerts := map[string]bool{}
	for _, r := range alertRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts[strings.ToLower(r.Alert)] = true
		raw := r.Annotations["runbook_url"]
		if raw == "" {
			t.Errorf("alert %s has no runbook_url annotation", r.Alert)
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || !strings.HasPrefix(raw, runbookBase) || u.Fragment == "" {
			t.Errorf("alert %s: runbook_url %q must be %s<file>#<anchor>", r.Alert, raw, runbookBase)
			continue
		}
		file := strings.TrimPrefix(u.Scheme+"://"+u.Host+u.Path, runbookBase)
		if anchors[file] == nil {
			anchors[file] = markdownAnchors(t, filepath.Join(root, filepath.FromSlash(file)))
		}
		if !anchors[file][u.Fragment] {
			t.Errorf("alert %s: runbook_url %q: %s has no heading with anchor #%s", r.Alert, raw, file, u.Fragment)
		}
	}
	for a := range markdownAnchors(t, filepath.Join(root, runbooksFile)) {
		if strings.HasPrefix(a, "fraudscore") && !alerts[a] {
			t.Errorf("%s has a runbook #%s for an alert that does not exist", runbooksFile, a)
		}
	}
}

var (
	mdHeading    = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$`)
	mdAnchorDrop = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// markdownAnchors returns the anchors GitHub gives the headings of a
// Markdown file: lower case, punctuation dropped, spaces as hyphens
// (fenced code blocks are skipped; repeated headings are not numbered).
func markdownAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("runbooks: %v", err)
	}
	var text strings.Builder
	fenced := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			text.WriteString(line + "\n")
		}
	}
	out := map[string]bool{}
	for _, m := range mdHeading.FindAllStringSubmatch(text.String(), -1) {
		a := mdAnchorDrop.ReplaceAllString(strings.ToLower(m[1]), "")
		out[strings.ReplaceAll(a, " ", "-")] = true
	}
	return out
}

func TestMarkdownAnchors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.md")
	if err := os.WriteFile(path, []byte("# Runbooks\n## FraudscoreErrorRateHigh\n```\n## not a heading\n```\n### What to do: `nats` (first)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := markdownAnchors(t, path)
	for _, want := range []string{"runbooks", "fraudscoreerrorratehigh", "what-to-do-nats-first"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code block was taken for a heading")
	}
}
