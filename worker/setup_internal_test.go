package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestTransientSetupError(t *testing.T) {
	api := func(code jetstream.ErrorCode) error {
		return fmt.Errorf("worker: ensure stream X: %w", &jetstream.APIError{Code: 503, ErrorCode: code})
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"attempt timed out", fmt.Errorf("ensure: %w", context.DeadlineExceeded), true},
		{"request timeout", nats.ErrTimeout, true},
		{"no responders", nats.ErrNoResponders, true},
		{"reconnecting", nats.ErrConnectionReconnecting, true},
		{"no meta leader", api(10008), true},
		{"no suitable peers", api(10005), true},
		{"not leader", api(10009), true},
		{"insufficient storage", api(10047), false},
		{"invalid stream config", api(10052), false},
		{"stream name in use", fmt.Errorf("w: %w", jetstream.ErrStreamNameAlreadyInUse), false},
		{"stream not found", fmt.Errorf("w: %w", jetstream.ErrStreamNotFound), false},
		{"consumer not found", fmt.Errorf("w: %w", jetstream.ErrConsumerNotFound), false},
		{"jetstream not enabled", jetstream.ErrJetStreamNotEnabled, false},
		{"connection closed", nats.ErrConnectionClosed, false},
		{"cancelled", context.Canceled, false},
		{"unknown", errors.New("something else"), false},
	} {
		if got := transientSetupError(c.err); got != c.want {
			t.Errorf("%s (%v): transient = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestSetupRetryDelayIsBoundedExponentialWithJitter(t *testing.T) {
	r := SetupRetry{MinDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for attempt, full := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		for range 100 {
			if d := r.delay(attempt); d < full/2 || d > full {
				t.Fatalf("attempt %d: delay %s outside [%s, %s]", attempt, d, full/2, full)
			}
		}
	}
	if d := (SetupRetry{}).withDefaults(); d != DefaultSetupRetry() {
		t.Errorf("zero SetupRetry = %+v, want the defaults %+v", d, DefaultSetupRetry())
	}
}

func TestScoringGoroutines(t *testing.T) {
	for _, c := range []struct {
		concurrency, cpus int
		enriched          bool
		want              int
	}{
		{0, 2, false, 2},
		{0, 2, true, 2 * enrichedGoroutinesPerCPU},
		{0, 64, true, maxConcurrency},
		{5, 2, true, 5},
		{5, 2, false, 5},
	} {
		if got := scoringGoroutines(c.concurrency, c.cpus, c.enriched); got != c.want {
			t.Errorf("scoringGoroutines(%d, %d, %v) = %d, want %d", c.concurrency, c.cpus, c.enriched, got, c.want)
		}
	}
	f, _ := reflect.TypeFor[Config]().FieldByName("Concurrency")
	if want := fmt.Sprintf("%d per CPU", enrichedGoroutinesPerCPU); !strings.Contains(f.Tag.Get("desc"), want) {
		t.Errorf("FRAUDSCORE_CONCURRENCY's help %q does not say %q", f.Tag.Get("desc"), want)
	}
}
