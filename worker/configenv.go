package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ConfigError lists every problem found in a configuration. It matches
// ErrConfig with errors.Is.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return ErrConfig.Error() + ":\n  " + strings.Join(e.Problems, "\n  ")
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Variable is one configuration variable, as declared by Config's tags.
type Variable struct {
	Name        string // FRAUDSCORE_...
	Default     string
	Description string
	field       int // index of the field in Config
}

// Variables lists every configuration variable in the order Config declares
// them.
func Variables() []Variable {
	t := reflect.TypeFor[Config]()
	out := make([]Variable, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("envconfig")
		if key == "" {
			continue
		}
		out = append(out, Variable{Name: EnvPrefix + "_" + key, Default: f.Tag.Get("default"),
			Description: f.Tag.Get("desc"), field: i})
	}
	return out
}

// DefaultConfig returns the configuration with no variable set: every field
// holds the default its tag declares. It is the one source of defaults, for
// LoadConfig and for tests.
func DefaultConfig() Config {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for _, vr := range Variables() {
		if vr.Default != "" {
			// Every default parses (TestDefaultConfigIsValid); a field whose
			// default did not would keep its zero value and fail Validate.
			_ = setField(v.Field(vr.field), vr.Default)
		}
	}
	return c
}

// LoadConfig reads the configuration from environ (in the form of
// os.Environ: "KEY=value"). Only the FRAUDSCORE_* names count: a variable
// without the prefix never configures the worker. The error, a
// *ConfigError, lists every problem at once: each value that does not parse,
// then every rule of Validate that does not involve such a value, then what
// must exist on this machine (the model directory). Unknown FRAUDSCORE_*
// variables are returned, with or without an error, for the caller to warn
// about.
func LoadConfig(environ []string) (*Config, []UnknownVariable, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix+"_") {
			env[k] = v
		}
	}
	c := DefaultConfig()
	v := reflect.ValueOf(&c).Elem()
	var problems []string
	unreadable := map[string]bool{}
	for _, vr := range Variables() {
		s, ok := env[vr.Name]
		if !ok {
			continue
		}
		if err := setField(v.Field(vr.field), s); err != nil {
			unreadable[vr.Name] = true
			problems = append(problems, fmt.Sprintf("%s=%q is not %v", vr.Name, s, err))
		}
	}
	var ce *ConfigError
	if errors.As(c.Validate(), &ce) {
		for _, p := range ce.Problems {
			if !namesAny(p, unreadable) {
				problems = append(problems, p)
			}
		}
	}
	if p := c.modelDirProblem(); p != "" && !unreadable[EnvPrefix+"_MODEL_DIR"] {
		problems = append(problems, p)
	}
	unknown := UnknownVariables(environ)
	if len(problems) > 0 {
		return nil, unknown, &ConfigError{Problems: problems}
	}
	return &c, unknown, nil
}

var variableName = regexp.MustCompile(EnvPrefix + `_[A-Z0-9_]+`)

// namesAny reports whether a problem names one of the variables: a rule that
// involves a value that could not be read is not checked (its message would
// speak of the default, not of what was set).
func namesAny(problem string, vars map[string]bool) bool {
	for _, n := range variableName.FindAllString(problem, -1) {
		if vars[n] {
			return true
		}
	}
	return false
}

// modelDirProblem says when the model directory is missing: the worker
// would otherwise start and wait for a model that cannot appear.
func (c *Config) modelDirProblem() string {
	if c.PassThrough || c.ModelDir == "" {
		return ""
	}
	where := c.ModelDir
	if !filepath.IsAbs(where) {
		if wd, err := os.Getwd(); err == nil {
			where = fmt.Sprintf("%s (in %s)", c.ModelDir, wd)
		}
	}
	fi, err := os.Stat(c.ModelDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s_MODEL_DIR: model directory %s does not exist", EnvPrefix, where)
	case err != nil:
		return fmt.Sprintf("%s_MODEL_DIR: model directory %s: %v", EnvPrefix, where, err)
	case !fi.IsDir():
		return fmt.Sprintf("%s_MODEL_DIR: %s is not a directory", EnvPrefix, where)
	}
	return ""
}

var durationType = reflect.TypeFor[time.Duration]()

// setField parses s into f, by f's type. The error says what s should have
// been ("a duration (such as 5s or 1m30s)").
func setField(f reflect.Value, s string) error {
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return errors.New("a duration (such as 5s or 1m30s)")
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.Slice && f.Type().Elem() == durationType:
		var ds []time.Duration
		if strings.TrimSpace(s) != "" {
			for _, part := range strings.Split(s, ",") {
				d, err := time.ParseDuration(strings.TrimSpace(part))
				if err != nil {
					return errors.New("a comma-separated list of durations (such as 5s,15s,30s)")
				}
				ds = append(ds, d)
			}
		}
		f.Set(reflect.ValueOf(ds))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return errors.New("true or false")
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 0, f.Type().Bits())
		if err != nil {
			return errors.New("an integer")
		}
		f.SetInt(n)
	case f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return errors.New("a number")
		}
		f.SetFloat(x)
	default:
		return fmt.Errorf("of a supported type (%s is not)", f.Type())
	}
	return nil
}
