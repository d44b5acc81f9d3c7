package scoreclient_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/scoreclient"
)

// Score one event synchronously and tell a verdict from a rejection. The
// example needs running workers, so it is compiled but not run; the tests
// run the same calls against a real worker.
func ExampleClient_Score() {
	cfg := worker.DefaultConfig() // or worker.LoadConfig: URLs, credentials files, TLS
	nc, err := worker.Connect(&cfg, "checkout", slog.Default(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	c := scoreclient.New(nc, scoreclient.Options{Timeout: 2 * time.Second})
	event := []byte(`{"schema_version":"transaction_event.v1","transaction_id":"order-1", "...": "..."}`)
	rep, err := c.Score(context.Background(), event)
	var se *scoreclient.ServiceError
	switch {
	case errors.As(err, &se) && se.Code == worker.CodeUnavailable:
		fmt.Println("retry later:", se.Description)
	case errors.As(err, &se):
		fmt.Println("rejected:", se.Code, se.Description)
	case err != nil: // no service, timeout, connection
		fmt.Println(err)
	default:
		fmt.Println(rep.Verdict.Decision, rep.Verdict.Score, rep.Verdict.Reasons)
	}
}

// Score a file of events, one per line, printing each verdict as a line of
// JSON and each rejection on stderr, as `fraudscore score` does.
func ExampleClient_Send() {
	cfg := worker.DefaultConfig()
	nc, err := worker.Connect(&cfg, "batch", slog.Default(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	in := strings.NewReader(`{"schema_version":"transaction_event.v1","transaction_id":"a-1", "...": "..."}
{"schema_version":"transaction_event.v1","transaction_id":"a-2", "...": "..."}
`)
	res, err := scoreclient.New(nc, scoreclient.Options{}).Send(context.Background(), in, os.Stdout, os.Stderr)
	fmt.Println(res.Verdicts, "verdicts,", res.ServiceErrors, "rejected, err:", err)
}
