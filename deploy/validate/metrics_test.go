package validate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/worker"
)

// External metrics named by the alerts or the dashboard that no worker
// exports: each with who does.
var externalMetrics = map[string]string{
	"up": "Prometheus (scrape health)",
}

func isExternal(name string) bool {
	return externalMetrics[name] != "" || strings.HasPrefix(name, "kube_") // kube-state-metrics
}

// dashboardExprs lists the PromQL of the dashboard: every panel target and
// the metric of each label_values(metric, label) variable.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "grafana", "fraudscore-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Query any
			}
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			out[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			if s, ok := q["query"].(string); ok {
				// label_values(metric, label)
				if i, j := strings.Index(s, "("), strings.Index(s, ","); i >= 0 && j > i {
					out["variable "+v.Name] = s[i+1 : j]
				}
			}
		}
	}
	return out
}

// declaredMetrics are the names the worker's metrics (worker.NewMetrics),
// the model lifecycle (lifecycle.New) and the drift collector
// (drift.NewCollector) register, the way cmd/fraudscore wires them,
// including vectors that export nothing until their first event and PSI
// that needs a full enough window.
func declaredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	rec := &recordingRegisterer{}
	worker.NewMetrics(rec, "v0.0.0", "x")
	cfg := lifecycle.DefaultConfig()
	cfg.ModelDir = t.TempDir() // an empty store: refused and logged, the metrics registered all the same
	if _, err := lifecycle.New(cfg, lifecycle.Options{Registerer: rec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	rec.MustRegister(drift.NewCollector())
	out := map[string]bool{}
	descName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range rec.collectors {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if mm := descName.FindStringSubmatch(d.String()); mm != nil {
				out[mm[1]] = true
			}
		}
	}
	for _, want := range []string{"fraudscore_build_info", "fraudscore_challenger_decisions_total", "fraudscore_score_psi"} {
		if !out[want] {
			t.Fatalf("declared metrics lack %s: %v", want, out)
		}
	}
	return out
}

// recordingRegisterer is a prometheus.Registerer that keeps what is
// registered on it, so that the metric names a package declares can be
// listed from their descriptions.
type recordingRegisterer struct{ collectors []prometheus.Collector }

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *recordingRegisterer) Unregister(prometheus.Collector) bool { return false }

// usedMetrics maps each metric name the queries select to the first query
// (by key) that names it; a query the PromQL parser refuses fails t.
func usedMetrics(t *testing.T, exprs map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range sortedKeys(exprs) {
		names, err := metricNames(exprs[k])
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		for _, n := range names {
			if _, ok := out[n]; !ok {
				out[n] = k
			}
		}
	}
	return out
}

// TestDashboardQueriesParse parses every query of the dashboard with the
// PromQL parser (alerts: TestPromtoolCheckRules).
func TestDashboardQueriesParse(t *testing.T) {
	exprs := dashboardExprs(t)
	if len(exprs) < 10 {
		t.Fatalf("found only %d queries in the dashboard", len(exprs))
	}
	if names := usedMetrics(t, exprs); len(names) == 0 {
		t.Error("the dashboard's queries name no metric")
	}
}

// TestMetricsExistInWorker runs the worker binary with an embedded NATS
// server and demo traffic, makes it dead-letter one transaction and answer
// one request, scrapes /metrics, and checks that every metric the alerts and
// the dashboard name is exported. Vectors that only appear after an event
// this test does not cause (NAKs, consumer errors) must at least be declared
// (declaredMetrics), and are reported.
func TestMetricsExistInWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the live worker")
	}
	side, natsAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	w := testenv.StartProcess(t, testenv.Binary(t, "./cmd/fraudscore"), []string{"worker"}, []string{
		"FRAUDSCORE_EMBEDDED=true",
		"FRAUDSCORE_EMBEDDED_STORE_DIR=" + t.TempDir(),
		"FRAUDSCORE_EMBEDDED_LISTEN=" + natsAddr,
		"FRAUDSCORE_EMBEDDED_MONITOR=" + testenv.FreeAddr(t),
		"FRAUDSCORE_HTTP_ADDR=" + side,
		"FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t),
		"FRAUDSCORE_DEMO_RATE=200",
		"FRAUDSCORE_DRIFT_WINDOW=400", // drift PSI is exported once the window is full
		"FRAUDSCORE_BACKLOG_POLL=200ms",
		"FRAUDSCORE_LOG_LEVEL=warn",
	})
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + side + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	w.WaitHTTP(t, "http://"+side+"/readyz", 40*time.Second)
	if code, body := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}

	// One poison transaction (dead letter) and one score request.
	nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("payments.transactions.deploytest", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	_, _ = nc.Request("fraud.score", []byte(`{"not":"an event"}`), 5*time.Second)
	_ = nc.Flush()

	// Alerts need these live; the dashboard's optional vectors may be declared only.
	alertNames := usedMetrics(t, alertExprs(t))
	names := usedMetrics(t, dashboardExprs(t))
	for n, k := range alertNames {
		names[n] = k
	}
	if len(names) < 10 {
		t.Fatalf("found only %d metric names in the alerts and dashboard: %v", len(names), names)
	}
	declared := declaredMetrics(t)
	exported := map[string]bool{}
	scrape := func() {
		code, body := get("/metrics")
		if code != 200 {
			return
		}
		sc := bufio.NewScanner(strings.NewReader(body))
		sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			if i := strings.IndexAny(line, "{ "); i > 0 {
				exported[line[:i]] = true
			}
		}
	}
	missing := func() []string {
		var out []string
		for n := range names {
			if _, alert := alertNames[n]; !isExternal(n) && !exported[n] && (alert || !declared[n]) {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for scrape(); len(missing()) > 0 && time.Now().Before(deadline); scrape() {
		time.Sleep(300 * time.Millisecond)
	}
	for _, n := range missing() {
		t.Errorf("%s (used by %s) is not in the worker's /metrics", n, names[n])
	}
	var declaredOnly, external []string
	for n := range names {
		switch {
		case isExternal(n):
			external = append(external, n)
		case !exported[n]:
			declaredOnly = append(declaredOnly, n)
		}
	}
	sort.Strings(declaredOnly)
	sort.Strings(external)
	t.Logf("%d metric names checked; declared but not yet emitted (event-driven vectors, a challenger): %v; external: %v",
		len(names), declaredOnly, external)
}
