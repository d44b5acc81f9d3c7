package main

import (
	"github.com/fraudscore/fraudscore/worker"
)

// connectionFlags registers on c the flags every command that talks to NATS
// takes: -url and the worker's credentials and TLS settings
// (worker.ConnectionFlags), each defaulting to its FRAUDSCORE_NATS_*
// variable, and returns the worker configuration they fill. Commands add
// their own stream flags with stringFlag. Validate the result with its
// Validate method after parsing.
func connectionFlags(c *command) *worker.Config {
	conn := worker.DefaultConfig()
	stringFlag(c, "url", "NATS_URL", &conn.NATSURL, "NATS server URLs, comma-separated")
	worker.ConnectionFlags(c.flags, &conn)
	return &conn
}

// stringFlag registers a string flag whose default is the worker variable
// FRAUDSCORE_<env> when it is set, else *dst, and names that variable in its
// usage (worker.EnvFlag).
func stringFlag(c *command, flag, env string, dst *string, usage string) {
	worker.EnvFlag(c.flags, flag, env, dst, usage)
}

// connProblem returns problem, a command-line mistake already found, or
// when there is none what conn's Validate finds ("" when nothing).
func connProblem(problem string, conn *worker.Config) string {
	if problem == "" {
		if err := conn.Validate(); err != nil {
			return err.Error()
		}
	}
	return problem
}
