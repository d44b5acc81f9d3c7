package worker

import (
	"github.com/fraudscore/fraudscore/internal/settings"
)

// ConfigError lists every problem found in a configuration. It matches
// ErrConfig with errors.Is.
type ConfigError = settings.Error

// Variable is one configuration variable, as declared by Config's tags.
type Variable = settings.Variable

// Section returns the worker's settings section for settings.Load, reading
// into c and validated by c.Problems.
func Section(c *Config) settings.Section {
	return settings.Section{Name: "worker", Config: c, Validate: c.Problems}
}

// Variables lists the worker's configuration variables in the order Config
// declares them.
func Variables() []Variable {
	var c Config
	return Section(&c).Variables()
}

// DefaultConfig returns the configuration with no variable set: every field
// holds the default its tag declares (settings.SetDefaults, the one source
// of defaults).
func DefaultConfig() Config {
	var c Config
	settings.SetDefaults(&c)
	return c
}

// LoadConfig reads the worker's settings alone from environ (os.Environ
// form), with every problem at once (settings.Load). The fraudscore command
// loads them together with the binary's and the model lifecycle's; unknown
// variables here are those the worker does not read.
func LoadConfig(environ []string) (*Config, []UnknownVariable, error) {
	c := DefaultConfig()
	unknown, err := settings.Load(environ, Section(&c))
	if err != nil {
		return nil, unknown, err
	}
	return &c, unknown, nil
}

// UnknownVariable is a FRAUDSCORE_* variable in the environment that no
// setting reads (settings.UnknownVariable).
type UnknownVariable = settings.UnknownVariable
