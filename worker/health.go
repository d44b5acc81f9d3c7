package worker

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker reports nil when healthy, or why not.
type Checker func() error

// SideHandler serves the side port: /metrics from g, /healthz (liveness)
// and /readyz (readiness). Each probe passes only when all its checkers do.
func SideHandler(g prometheus.Gatherer, live, ready []Checker) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	probe := func(checks []Checker) http.HandlerFunc {
		return func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Header().Set("Cache-Control", "no-store")
			for _, c := range checks {
				if err := c(); err != nil {
					rw.WriteHeader(http.StatusServiceUnavailable)
					fmt.Fprintf(rw, "not ok: %v\n", err)
					return
				}
			}
			fmt.Fprintln(rw, "ok")
		}
	}
	mux.Handle("GET /healthz", probe(live))
	mux.Handle("GET /readyz", probe(ready))
	return mux
}
