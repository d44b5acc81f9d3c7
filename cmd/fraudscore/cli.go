package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
)

// command is one subcommand's command line: its synopsis, its flags and how
// many arguments it takes. Every subcommand answers -h, -help and --help
// with its own help on stdout (exit 0) and a mistake with its usage on
// stderr (exit 2).
type command struct {
	name     string // "model list"
	synopsis string // the arguments in the usage line: "VERSION", "[VERSION]", ""
	summary  string // one or more sentences
	minArgs  int
	maxArgs  int
	flags    *flag.FlagSet
	more     func(io.Writer) // more help after the flags (the worker's variables); may be nil
}

func newCommand(name, synopsis, summary string, minArgs, maxArgs int) *command {
	fs := flag.NewFlagSet("fraudscore "+name, flag.ContinueOnError)
	fs.Usage = func() {} // parse prints the right help to the right stream
	return &command{name: name, synopsis: synopsis, summary: summary, minArgs: minArgs, maxArgs: maxArgs, flags: fs}
}

// usage writes the command's help.
func (c *command) usage(w io.Writer) {
	n := 0
	c.flags.VisitAll(func(*flag.Flag) { n++ })
	line := "fraudscore " + c.name
	if n > 0 {
		line += " [flags]"
	}
	if c.synopsis != "" {
		line += " " + c.synopsis
	}
	fmt.Fprintf(w, "usage: %s\n\n%s\n", line, c.summary)
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		c.flags.SetOutput(w)
		c.flags.PrintDefaults()
	}
	if c.more != nil {
		fmt.Fprintln(w)
		c.more(w)
	}
}

// parse parses args; flags may come before or after the arguments
// (model promote v1 -dir x). It returns the arguments and ok, or the exit
// status: 0 after help, 2 after a command-line mistake.
func (c *command) parse(args []string, stdout, stderr io.Writer) (pos []string, code int, ok bool) {
	c.flags.SetOutput(stderr) // the flag package's own message on a bad flag
	for {
		err := c.flags.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return nil, 0, false
		}
		if err != nil {
			fmt.Fprintln(stderr)
			c.usage(stderr)
			return nil, 2, false
		}
		if c.flags.NArg() == 0 {
			break
		}
		pos = append(pos, c.flags.Arg(0))
		args = c.flags.Args()[1:]
	}
	if len(pos) < c.minArgs || len(pos) > c.maxArgs {
		fmt.Fprintf(stderr, "fraudscore %s: %s\n\n", c.name, c.argsWanted(len(pos)))
		c.usage(stderr)
		return nil, 2, false
	}
	return pos, 0, true
}

// usageError prints problem, a command-line mistake found after parsing,
// with c's usage on stderr and returns exit status 2.
func (c *command) usageError(stderr io.Writer, problem string) int {
	fmt.Fprintf(stderr, "fraudscore %s: %s\n\n", c.name, problem)
	c.usage(stderr)
	return 2
}

// exit returns the exit status of a run that ended with err: 0 for nil, 1
// after printing err on one line prefixed with the command's name.
func (c *command) exit(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "fraudscore %s: %v\n", c.name, err)
	return 1
}

func (c *command) argsWanted(got int) string {
	if c.maxArgs == 0 {
		return fmt.Sprintf("takes no arguments, got %d", got)
	}
	return fmt.Sprintf("wants %s, got %d arguments", c.synopsis, got)
}

// printVariables lists every configuration variable, by owner, with its
// default and description.
func printVariables(w io.Writer) {
	fmt.Fprint(w, "The worker is configured by environment variables (unknown FRAUDSCORE_* names are warned about):\n")
	for _, s := range defaultConfig().sections() {
		fmt.Fprintf(w, "\n %s:\n", s.Name)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, v := range s.Variables() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Description)
		}
		_ = tw.Flush()
	}
}
