package velocity

import (
	"fmt"
	"time"

	"github.com/fraudscore/fraudscore/internal/settings"
)

// Modes (FRAUDSCORE_VELOCITY).
const (
	// ModeOff: no velocity; events are scored with the aggregates upstream sent.
	ModeOff = "off"
	// ModeKV: velocity state in a JetStream KV bucket.
	ModeKV = "kv"
)

// Preferences (FRAUDSCORE_VELOCITY_PREFER): which value an aggregate the
// event already carries ends with.
const (
	// PreferUpstream keeps an aggregate the event carries; computed values
	// fill the missing ones.
	PreferUpstream = "upstream"
	// PreferComputed replaces upstream aggregates with computed values.
	PreferComputed = "computed"
)

// MaxValueBytes is the largest encoded state the settings may produce:
// NATS's default max_payload (1 MiB), the most a KV value can be by
// default.
const MaxValueBytes = 1 << 20

// Config is velocity's settings, read from FRAUDSCORE_VELOCITY* variables
// through package settings; DefaultConfig fills the defaults the tags
// declare.
type Config struct {
	Mode              string        `envconfig:"VELOCITY" default:"off" desc:"velocity aggregates computed by fraudscore: off (use what upstream sends), kv (state in a JetStream KV bucket)"`
	Lateness          time.Duration `envconfig:"VELOCITY_LATENESS" default:"5m" desc:"how far behind a key's newest event time an event may be and still be counted; older ones are scored with what is known and counted as late"`
	Prefer            string        `envconfig:"VELOCITY_PREFER" default:"upstream" desc:"an aggregate the event carries: upstream (keep it), computed (replace it)"`
	Timeout           time.Duration `envconfig:"VELOCITY_TIMEOUT" default:"250ms" desc:"per event; past it the event is scored without the velocity aggregates not yet computed (counted, logged)"`
	MaxDevicesPerCard int           `envconfig:"VELOCITY_MAX_DEVICES_PER_CARD" default:"32" desc:"devices remembered per card for new_device (the least recently seen is forgotten first)"`
	MaxEntries        int           `envconfig:"VELOCITY_MAX_ENTRIES" default:"2048" desc:"transactions kept per card or device; beyond it the oldest are dropped (counted)"`
	BreakerCooldown   time.Duration `envconfig:"VELOCITY_BREAKER_COOLDOWN" default:"5s" desc:"after 16 events in a row failed on the bucket (its error or the timeout), score without velocity at once for this long, then probe with one event; 0 turns the breaker off"`
	CacheBytes        int           `envconfig:"VELOCITY_CACHE_BYTES" default:"16777216" desc:"memory for the states this worker last wrote, so it can write a key's next state without reading it first (a compare-and-set checks the guess; used only while it pays); 0 reads every key first"`
}

// DefaultConfig returns the settings with no variable set.
func DefaultConfig() Config {
	var c Config
	settings.SetDefaults(&c)
	return c
}

// Section returns velocity's settings section for settings.Load.
func Section(c *Config) settings.Section {
	return settings.Section{Name: "velocity", Config: c, Validate: c.Problems}
}

// Enabled reports whether the settings turn velocity on.
func (c *Config) Enabled() bool { return c.Mode == ModeKV }

// Retention is how long a state must outlive its last write (the KV
// bucket's max age): the 24 h window plus the lateness bound.
func (c *Config) Retention() time.Duration { return Window24h + c.Lateness }

// Problems lists every rule the settings break, each naming its variables.
func (c *Config) Problems() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Mode != ModeOff && c.Mode != ModeKV {
		add("FRAUDSCORE_VELOCITY=%q must be off or kv", c.Mode)
	}
	if c.Lateness < 0 || c.Lateness > Window24h {
		add("FRAUDSCORE_VELOCITY_LATENESS=%s must be between 0s and 24h", c.Lateness)
	}
	if c.Prefer != PreferUpstream && c.Prefer != PreferComputed {
		add("FRAUDSCORE_VELOCITY_PREFER=%q must be upstream or computed", c.Prefer)
	}
	if c.Timeout < time.Millisecond {
		add("FRAUDSCORE_VELOCITY_TIMEOUT=%s must be at least 1ms", c.Timeout)
	}
	if c.BreakerCooldown < 0 {
		add("FRAUDSCORE_VELOCITY_BREAKER_COOLDOWN=%s must be 0 (no breaker) or positive", c.BreakerCooldown)
	}
	if c.CacheBytes < 0 {
		add("FRAUDSCORE_VELOCITY_CACHE_BYTES=%d must be 0 (no cache) or positive", c.CacheBytes)
	}
	entriesOK, devicesOK := c.MaxEntries >= 1, c.MaxDevicesPerCard >= 1
	if !entriesOK {
		add("FRAUDSCORE_VELOCITY_MAX_ENTRIES=%d must be positive", c.MaxEntries)
	}
	if !devicesOK {
		add("FRAUDSCORE_VELOCITY_MAX_DEVICES_PER_CARD=%d must be positive", c.MaxDevicesPerCard)
	}
	if entriesOK && devicesOK && (c.MaxEntries > MaxValueBytes || c.MaxDevicesPerCard > MaxValueBytes ||
		CardStateBytes(c.MaxEntries, c.MaxDevicesPerCard) > MaxValueBytes) {
		add("FRAUDSCORE_VELOCITY_MAX_ENTRIES=%d and FRAUDSCORE_VELOCITY_MAX_DEVICES_PER_CARD=%d make a card state of up to %d bytes, more than a KV value's %d",
			c.MaxEntries, c.MaxDevicesPerCard, CardStateBytes(min(c.MaxEntries, MaxValueBytes), min(c.MaxDevicesPerCard, MaxValueBytes)), MaxValueBytes)
	}
	return errs
}
