package validate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// promql parses the alerts' and the dashboard's queries with Prometheus's own
// parser (ADR 0013), so a query Prometheus would refuse fails here, and the
// metric names come from the syntax tree rather than from text patterns.
var promql = parser.NewParser(parser.Options{})

// grafanaDurations are the Grafana variables that stand for a range in the
// dashboard's queries; parsing replaces them with a valid duration. Other
// variables ($namespace) appear only inside label values, where any text
// parses.
var grafanaDurations = strings.NewReplacer(
	"${__rate_interval}", "5m", "$__rate_interval", "5m",
	"${__interval}", "1m", "$__interval", "1m",
	"${__range}", "1h", "$__range", "1h",
)

// metricNames parses expr and returns the metric names its selectors name,
// in order of appearance, each once.
func metricNames(expr string) ([]string, error) {
	e, err := promql.ParseExpr(grafanaDurations.Replace(expr))
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	var out []string
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" && !seen[vs.Name] {
			seen[vs.Name] = true
			out = append(out, vs.Name)
		}
		return nil
	})
	return out, nil
}

func TestMetricNamesParser(t *testing.T) {
	got, err := metricNames(`histogram_quantile(0.95, sum by (namespace, le) (rate(fraudscore_end_to_end_latency_seconds_bucket{namespace="$namespace",x=~"a|b"}[$__rate_interval]))) > 0.5 and on(pod) up == 1 or time() - max(model_load_timestamp) > 30 * 86400 + 1e-9 * count by (model_version) (fraudscore_model_info) / 2^20 or absent(up{job=~".*fraudscore.*"}) or {__name__="named_by_label"} or vector(0)`)
	if err != nil {
		t.Fatal(err)
	}
	// A name given only as a __name__ matcher is not a VectorSelector name:
	// the alerts and dashboard do not use that form, and TestMetricsExistInWorker
	// would miss it, so this pins the limit.
	want := []string{"fraudscore_end_to_end_latency_seconds_bucket", "up", "model_load_timestamp", "fraudscore_model_info"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{`sum(rate(x[5m])`, `rate(x{a="b"}[$__unknown])`, `x + `} {
		if _, err := metricNames(bad); err == nil {
			t.Errorf("%q parsed; want an error", bad)
		}
	}
}
