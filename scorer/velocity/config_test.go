package velocity_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/internal/settings"
	"github.com/fraudscore/fraudscore/scorer/velocity"
)

func TestDefaults(t *testing.T) {
	c := velocity.DefaultConfig()
	want := velocity.Config{Mode: "off", Lateness: 5 * time.Minute, Prefer: "upstream", Timeout: 250 * time.Millisecond,
		MaxDevicesPerCard: 32, MaxEntries: 2048, BreakerCooldown: 5 * time.Second, CacheBytes: 16 << 20}
	if c != want {
		t.Fatalf("defaults %+v, want %+v", c, want)
	}
	if p := c.Problems(); p != nil {
		t.Fatalf("defaults have problems: %v", p)
	}
	if c.Enabled() || c.Retention() != 24*time.Hour+5*time.Minute {
		t.Fatalf("enabled %v retention %s", c.Enabled(), c.Retention())
	}
}

func TestSectionLoad(t *testing.T) {
	c := velocity.DefaultConfig()
	_, err := settings.Load([]string{"FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_VELOCITY_LATENESS=90s", "FRAUDSCORE_VELOCITY_PREFER=computed",
		"FRAUDSCORE_VELOCITY_TIMEOUT=1s", "FRAUDSCORE_VELOCITY_MAX_DEVICES_PER_CARD=4", "FRAUDSCORE_VELOCITY_MAX_ENTRIES=100"}, velocity.Section(&c))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enabled() || c.Lateness != 90*time.Second || c.Prefer != velocity.PreferComputed || c.Timeout != time.Second ||
		c.MaxDevicesPerCard != 4 || c.MaxEntries != 100 || c.Retention() != 24*time.Hour+90*time.Second {
		t.Fatalf("loaded %+v", c)
	}
	for _, v := range velocity.Section(&c).Variables() {
		if v.Name == "FRAUDSCORE_VELOCITY_BUCKET" {
			t.Fatal("the bucket is the worker's variable")
		}
	}

	c = velocity.DefaultConfig()
	_, err = settings.Load([]string{"FRAUDSCORE_VELOCITY=redis", "FRAUDSCORE_VELOCITY_LATENESS=25h", "FRAUDSCORE_VELOCITY_PREFER=mine",
		"FRAUDSCORE_VELOCITY_TIMEOUT=0s", "FRAUDSCORE_VELOCITY_MAX_DEVICES_PER_CARD=0", "FRAUDSCORE_VELOCITY_MAX_ENTRIES=soon"}, velocity.Section(&c))
	if !errors.Is(err, settings.ErrConfig) {
		t.Fatalf("error %v", err)
	}
	for _, v := range []string{"FRAUDSCORE_VELOCITY=", "FRAUDSCORE_VELOCITY_LATENESS=", "FRAUDSCORE_VELOCITY_PREFER=",
		"FRAUDSCORE_VELOCITY_TIMEOUT=", "FRAUDSCORE_VELOCITY_MAX_DEVICES_PER_CARD=", "FRAUDSCORE_VELOCITY_MAX_ENTRIES="} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("no problem names %s: %v", v, err)
		}
	}
}

func TestValueSizeLimit(t *testing.T) {
	c := velocity.DefaultConfig()
	c.MaxEntries = 20000
	p := c.Problems()
	if len(p) != 1 || !strings.Contains(p[0], "FRAUDSCORE_VELOCITY_MAX_ENTRIES=20000") {
		t.Fatalf("problems %v", p)
	}
	c.MaxEntries = (velocity.MaxValueBytes - velocity.CardStateBytes(0, c.MaxDevicesPerCard)) / velocity.CardEntryBytes
	if p := c.Problems(); p != nil {
		t.Fatalf("the largest fitting cap refused: %v", p)
	}
	if _, err := velocity.New(&velocity.MemStore{}, velocity.Config{}, velocity.Options{}); !errors.Is(err, velocity.ErrSettings) {
		t.Fatalf("New with zero settings: %v", err)
	}
	if _, err := velocity.New(nil, velocity.DefaultConfig(), velocity.Options{}); !errors.Is(err, velocity.ErrSettings) {
		t.Fatalf("New without a store: %v", err)
	}
}
