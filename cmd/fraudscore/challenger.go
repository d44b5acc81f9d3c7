package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// challengerSummary is `model challenger`'s line in the model help.
const challengerSummary = "Set, clear or show the challenger, the version on trial beside latest."

// challengerAction is one `fraudscore model challenger` action.
type challengerAction struct {
	name, args, summary string
	minArgs, maxArgs    int
	run                 func(store *modelstore.Store, pos []string, stdout io.Writer) error
}

func challengerActions() []challengerAction {
	return []challengerAction{
		{name: "set", args: "VERSION", minArgs: 1, maxArgs: 1, run: setChallenger,
			summary: "Check VERSION as promote does (sha256, features, parity gate), then point the challenger link at it\n" +
				"(atomic). Refused: a version that fails the checks, or the one latest points at. Workers pick the\n" +
				"challenger up at their next reload and score it in shadow (or on a share of cards in split mode)."},
		{name: "clear", run: clearChallenger,
			summary: "Remove the challenger link: workers serve latest alone after their next reload. Clearing when\n" +
				"there is no challenger does nothing and succeeds."},
		{name: "show", run: showChallenger,
			summary: "Print the version the challenger link points at and check it as a worker would; exit 1 if\n" +
				"the workers would refuse it. No challenger is not an error."},
	}
}

func challengerUsage(w io.Writer) {
	fmt.Fprint(w, "usage: fraudscore model challenger <action> [flags] [arguments]\n\n"+challengerSummary+"\n\nActions:\n")
	for _, a := range challengerActions() {
		fmt.Fprintf(w, "  %-6s %-8s %s\n", a.name, a.args, strings.SplitN(a.summary, "\n", 2)[0])
	}
	fmt.Fprint(w, "\nfraudscore model challenger <action> --help shows an action's flags.\n")
}

// challengerCommand runs `fraudscore model challenger ...`; args follow
// "challenger".
func challengerCommand(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		challengerUsage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		challengerUsage(stdout)
		return 0
	}
	var act *challengerAction
	for _, a := range challengerActions() {
		if a.name == args[0] {
			act = &a
		}
	}
	if act == nil {
		fmt.Fprintf(stderr, "fraudscore model challenger: unknown action %q\n\n", args[0])
		challengerUsage(stderr)
		return 2
	}
	c := newCommand("model challenger "+act.name, act.args, act.summary, act.minArgs, act.maxArgs)
	var dir string
	c.flags.StringVar(&dir, "dir", defaultModelDir(), "model store directory ($FRAUDSCORE_MODEL_DIR)")
	pos, code, ok := c.parse(args[1:], stdout, stderr)
	if !ok {
		return code
	}
	if err := act.run(modelstore.Open(dir), pos, stdout); err != nil {
		fmt.Fprintf(stderr, "fraudscore model challenger %s: %v\n", act.name, err)
		return 1
	}
	return 0
}

func setChallenger(store *modelstore.Store, pos []string, stdout io.Writer) error {
	if err := store.SetChallenger(pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "challenger -> %s\n", pos[0])
	return nil
}

func clearChallenger(store *modelstore.Store, _ []string, stdout io.Writer) error {
	// Read before clearing, to say what was cleared; a set by someone else
	// in between would be cleared but not named.
	was, err := store.Challenger()
	if err != nil && !errors.Is(err, modelstore.ErrNoChallenger) && !errors.Is(err, modelstore.ErrBadVersion) {
		return err
	}
	if err := store.ClearChallenger(); err != nil {
		return err
	}
	if was == "" {
		fmt.Fprintln(stdout, "no challenger to clear")
		return nil
	}
	fmt.Fprintf(stdout, "challenger %s cleared\n", was)
	return nil
}

func showChallenger(store *modelstore.Store, _ []string, stdout io.Writer) error {
	v, err := store.Challenger()
	if errors.Is(err, modelstore.ErrNoChallenger) {
		fmt.Fprintln(stdout, "no challenger")
		return nil
	}
	if err != nil {
		return err
	}
	l, err := store.Load(v)
	if err != nil {
		return fmt.Errorf("challenger -> %s, which workers refuse: %w", v, err)
	}
	fmt.Fprintf(stdout, "challenger -> %s\n", checkLine(l))
	return nil
}
