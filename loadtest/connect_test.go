package loadtest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/loadtest"
)

// TestConnectOpensEveryConnection runs both modes with Config.Connect set:
// every connection of the run is opened by it (the load tester's command
// puts the worker's credentials there), and its error ends the run.
func TestConnectOpensEveryConnection(t *testing.T) {
	url, _ := system(t, 1)
	var mu sync.Mutex
	var names []string
	connect := func(name string) (*nats.Conn, error) {
		mu.Lock()
		names = append(names, name)
		mu.Unlock()
		return nats.Connect(url, nats.Name(name))
	}
	for _, mode := range []string{loadtest.ModeStream, loadtest.ModeRequest} {
		names = nil
		rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Connect: connect, Mode: mode, Count: 50, MaxDuration: time.Minute})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if !rep.OK() || rep.Matched != 50 {
			t.Errorf("%s: want 50 verdicts, got %d (ok %v)", mode, rep.Matched, rep.OK())
		}
		want := []string{"fraudscore-loadtest-request"}
		if mode == loadtest.ModeStream {
			want = []string{"fraudscore-loadtest-pub", "fraudscore-loadtest-verdicts"}
		}
		mu.Lock()
		got := slices.Clone(names)
		mu.Unlock()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: connections opened by Connect %v, want %v", mode, got, want)
		}
	}

	refused := errors.New("authorization violation")
	_, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, Count: 1, MaxDuration: time.Minute,
		Connect: func(string) (*nats.Conn, error) { return nil, refused }})
	if !errors.Is(err, refused) {
		t.Fatalf("Run with a failing Connect: %v, want it wrapped", err)
	}
}
