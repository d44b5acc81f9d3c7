// Package settings reads fraudscore's configuration from FRAUDSCORE_*
// environment variables into the settings structs of their owners (the
// binary, the worker, the model lifecycle): each owner declares its struct
// with its variables, defaults and descriptions in field tags, and its rules
// in a validate function; Load reads every section at once and reports every
// problem of every section in one *Error, and lists the FRAUDSCORE_*
// variables that no section reads.
//
// A field's tags: envconfig:"NAME" (the variable is FRAUDSCORE_NAME),
// default:"value" and desc:"what it does". Supported types: string, bool,
// int, int64, float64, time.Duration and []time.Duration (comma-separated).
package settings
