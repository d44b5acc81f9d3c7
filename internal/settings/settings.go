package settings

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Prefix is the prefix of every configuration variable.
const Prefix = "FRAUDSCORE"

// ErrConfig is returned (wrapped) for invalid configuration.
var ErrConfig = errors.New("invalid configuration")

// Error lists every problem found in a configuration. It matches ErrConfig
// with errors.Is.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return ErrConfig.Error() + ":\n  " + strings.Join(e.Problems, "\n  ")
}

// Unwrap returns ErrConfig.
func (e *Error) Unwrap() error { return ErrConfig }

// Section is one owner's settings.
type Section struct {
	// Name heads the section's variables in help ("worker").
	Name string
	// Config points to the owner's settings struct.
	Config any
	// Validate returns the problems of the values in Config, each naming
	// the FRAUDSCORE_* variables it concerns; nil when there is none. It
	// runs after every value is read; a problem that names a variable whose
	// value could not be read is dropped (it would speak of the default).
	Validate func() []string
	// Check, optional, returns problems with what must exist on this
	// machine (a directory, a link); it runs after Validate, with the same
	// filtering.
	Check func() []string
}

// Variable is one configuration variable, as declared by a field's tags.
type Variable struct {
	Name        string // FRAUDSCORE_...
	Default     string
	Description string
	Section     string
	field       int // index of the field in the section's struct
}

// Variables lists the variables of a section in the order its struct
// declares them.
func (s Section) Variables() []Variable {
	t := reflect.TypeOf(s.Config).Elem()
	out := make([]Variable, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("envconfig")
		if key == "" {
			continue
		}
		out = append(out, Variable{Name: Prefix + "_" + key, Default: f.Tag.Get("default"),
			Description: f.Tag.Get("desc"), Section: s.Name, field: i})
	}
	return out
}

// SetDefaults sets every field of the struct cfg points to to the default
// its tag declares: the one source of defaults of every settings struct.
func SetDefaults(cfg any) {
	s := Section{Config: cfg}
	v := reflect.ValueOf(cfg).Elem()
	for _, vr := range s.Variables() {
		// Every default parses (each owner's defaults test); a field whose
		// default did not would keep its zero value and fail Validate.
		if vr.Default != "" {
			_ = setField(v.Field(vr.field), vr.Default)
		}
	}
}

// Load reads the sections from environ (in the form of os.Environ:
// "KEY=value"), starting from the values their structs hold (their
// defaults, from SetDefaults). Only FRAUDSCORE_* names count. The error, an
// *Error, lists every problem at once: each value that does not parse, then
// every section's Validate problems, then its Check problems, leaving out
// those about a value that could not be read. Unknown FRAUDSCORE_* variables
// (read by no section) are returned, with or without an error, for the
// caller to warn about.
func Load(environ []string, sections ...Section) ([]UnknownVariable, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, Prefix+"_") {
			env[k] = v
		}
	}
	var problems []string
	unreadable := map[string]bool{}
	for _, s := range sections {
		v := reflect.ValueOf(s.Config).Elem()
		for _, vr := range s.Variables() {
			val, ok := env[vr.Name]
			if !ok {
				continue
			}
			if err := setField(v.Field(vr.field), val); err != nil {
				unreadable[vr.Name] = true
				problems = append(problems, fmt.Sprintf("%s=%q is not %v", vr.Name, val, err))
			}
		}
	}
	for _, run := range []func(Section) func() []string{
		func(s Section) func() []string { return s.Validate },
		func(s Section) func() []string { return s.Check },
	} {
		for _, s := range sections {
			f := run(s)
			if f == nil {
				continue
			}
			for _, p := range f() {
				if !namesAny(p, unreadable) {
					problems = append(problems, p)
				}
			}
		}
	}
	unknown := Unknown(environ, sections...)
	if len(problems) > 0 {
		return unknown, &Error{Problems: problems}
	}
	return unknown, nil
}

var variableName = regexp.MustCompile(Prefix + `_[A-Z0-9_]+`)

// namesAny reports whether a problem names one of the variables.
func namesAny(problem string, vars map[string]bool) bool {
	for _, n := range variableName.FindAllString(problem, -1) {
		if vars[n] {
			return true
		}
	}
	return false
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
