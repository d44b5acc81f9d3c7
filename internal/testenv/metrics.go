package testenv

import (
	"strconv"
	"strings"
	"testing"
)

// ScrapeMetrics reads a Prometheus text page at url (a side port's
// /metrics) into series -> value, each series named as rendered, e.g.
// `fraudscore_labels_total{result="joined"}`. Comment lines are skipped; a
// value that does not parse fails the test.
func ScrapeMetrics(t testing.TB, url string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(HTTPBody(t, url), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("testenv: %s: %q: %v", url, line, err)
		}
		out[line[:i]] = v
	}
	return out
}
