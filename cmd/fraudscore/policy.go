package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/scorer/rules"
	"github.com/fraudscore/fraudscore/worker"
)

// policyCmd is one `fraudscore policy` subcommand.
type policyCmd struct {
	name, args, summary string
	minArgs, maxArgs    int
}

// policyCmds lists the policy subcommands in the order the help shows them.
func policyCmds() []policyCmd {
	return []policyCmd{
		{name: "list", summary: "List the rule set versions, marking latest with *, with their rule count or why they are refused."},
		{name: "check", args: "[VERSION|FILE]", maxArgs: 1,
			summary: "Load a rule set (default: latest) as a worker would: parse, names, types, cost limit, actions,\n" +
				"and run every rule's examples. Prints one line per rule; exit 1 with the rule and line when refused."},
		{name: "promote", args: "VERSION", minArgs: 1, maxArgs: 1,
			summary: "Check VERSION, then point latest at it (atomic); workers load it without a restart."},
		{name: "rollback", summary: "Point latest at the newest earlier version that passes check."},
		{name: "test", args: "[FILE|-]", maxArgs: 1,
			summary: "Evaluate one transaction event (JSON, from FILE or stdin) against a rule set (default: latest):\n" +
				"the model in -models scores it (or -score and -decision stand in for it), then the rules apply.\n" +
				"Prints the model's result, the final decision and the deciding rule."},
		{name: "backtest", args: "CANDIDATE [FILE|-]", minArgs: 1, maxArgs: 2, summary: backtestSummary},
	}
}

const backtestSummary = "Replay transactions through the model in -models and the CANDIDATE rule set (a version or a\n" +
	"rules.yaml file) beside -baseline (default: latest; none: the model alone), and print per candidate\n" +
	"rule and per policy how many decisions change and, with labels, precision and recall. Input: NDJSON\n" +
	"from FILE or stdin, each line an event or {\"event\": {...}, \"label\": \"fraud\"|\"legit\"}; or\n" +
	"-synthetic N transactions of the seeded generator, labelled with its ground truth; or -from-stream:\n" +
	"the transactions workers archived (FRAUDSCORE_ARCHIVE=true, ADR 0021), all or -since D or -last N,\n" +
	"each with the first label of its transaction in the label stream when there is one."

func policyUsage(w io.Writer) {
	fmt.Fprint(w, "usage: fraudscore policy <command> [flags] [arguments]\n\n"+
		"Analyst rule sets in CEL, versioned like models (docs/rules.md, ADR 0016).\n\nCommands:\n")
	for _, c := range policyCmds() {
		fmt.Fprintf(w, "  %-10s %-15s %s\n", c.name, c.args, strings.SplitN(c.summary, "\n", 2)[0])
	}
	fmt.Fprint(w, "\nfraudscore policy <command> --help shows a command's flags.\n")
}

// policyFlags are the values of every policy subcommand's flags.
type policyFlags struct {
	dir, models, version, decision, reasons, baseline string
	score, fraudRate                                  float64
	synthetic                                         int
	seed                                              uint64

	// -from-stream: the archive and label streams (backtest only).
	fromStream bool
	since      time.Duration
	last       int
	conn       *worker.Config
	labels     *worker.LabelConfig
}

func runPolicy(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		policyUsage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		if len(args) > 1 {
			return runPolicy(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		policyUsage(stdout)
		return 0
	}
	var pc *policyCmd
	for _, c := range policyCmds() {
		if c.name == args[0] {
			pc = &c
		}
	}
	if pc == nil {
		fmt.Fprintf(stderr, "fraudscore policy: unknown command %q\n\n", args[0])
		policyUsage(stderr)
		return 2
	}
	c := newCommand("policy "+pc.name, pc.args, pc.summary, pc.minArgs, pc.maxArgs)
	var f policyFlags
	c.flags.StringVar(&f.dir, "dir", defaultPolicyDir(), "rule set store directory ($FRAUDSCORE_POLICY_DIR)")
	if pc.name == "test" || pc.name == "backtest" {
		c.flags.StringVar(&f.models, "models", defaultModelDir(), "model store whose latest scores the events ($FRAUDSCORE_MODEL_DIR)")
	}
	if pc.name == "backtest" {
		c.flags.StringVar(&f.baseline, "baseline", "", "rule set to compare with: a version, a file, none (the model alone); default latest, or none without one")
		c.flags.IntVar(&f.synthetic, "synthetic", 0, "replay this many synthetic transactions (labelled) instead of reading events")
		c.flags.Uint64Var(&f.seed, "seed", 1, "with -synthetic: the generator's seed")
		c.flags.Float64Var(&f.fraudRate, "fraud-rate", 0, "with -synthetic: the fraud rate (default: the generator's)")
		c.flags.BoolVar(&f.fromStream, "from-stream", false, "replay the transactions archived in the archive stream instead of reading events")
		c.flags.DurationVar(&f.since, "since", 0, "with -from-stream: only those archived in the last D (24h: yesterday's traffic)")
		c.flags.IntVar(&f.last, "last", 0, "with -from-stream: only the last N archived")
		f.conn = connectionFlags(c)
		stringFlag(c, "stream", "ARCHIVE_STREAM", &f.conn.ArchiveStream, "with -from-stream: archive stream")
		stringFlag(c, "prefix", "ARCHIVE_PREFIX", &f.conn.ArchivePrefix, "with -from-stream: archive subject prefix")
		lc := worker.DefaultLabelConfig()
		f.labels = &lc
		stringFlag(c, "label-stream", "LABEL_STREAM", &lc.Stream, "with -from-stream: label stream (labels are joined when it exists)")
		stringFlag(c, "label-prefix", "LABEL_PREFIX", &lc.Prefix, "with -from-stream: label subject prefix")
	}
	if pc.name == "test" {
		c.flags.StringVar(&f.version, "version", "", "rule set version to test (default: latest)")
		c.flags.Float64Var(&f.score, "score", -1, "use this score instead of the model's (0..1)")
		c.flags.StringVar(&f.decision, "decision", "", "with -score: the model's decision (approve, review, decline)")
		c.flags.StringVar(&f.reasons, "reasons", "", "with -score: the model's reason codes, comma-separated")
	}
	pos, code, ok := c.parse(args[1:], stdout, stderr)
	if !ok {
		return code
	}
	if pc.name == "backtest" && (f.synthetic < 0 || f.synthetic > 0 && len(pos) > 1) {
		return c.usageError(stderr, "-synthetic N (N > 0) replaces FILE")
	}
	if pc.name == "backtest" {
		switch {
		case f.fromStream && (f.synthetic > 0 || len(pos) > 1):
			return c.usageError(stderr, "-from-stream replaces FILE and -synthetic")
		case !f.fromStream && (f.since != 0 || f.last != 0):
			return c.usageError(stderr, "-since and -last go with -from-stream")
		case f.since < 0 || f.last < 0 || f.since > 0 && f.last > 0:
			return c.usageError(stderr, "-since D (D > 0) or -last N (N > 0), not both")
		}
		if f.fromStream {
			if err := f.conn.Validate(); err != nil {
				return c.usageError(stderr, err.Error())
			}
		}
	}
	if pc.name == "test" && (f.score > 1 || (f.score < 0 && f.score != -1) ||
		(f.score == -1) != (f.decision == "") || f.decision != "" && !contracts.Decision(f.decision).Valid()) {
		return c.usageError(stderr, "-score (0..1) and -decision (approve, review, decline) go together")
	}
	return c.exit(stderr, pc.run(ctx, &f, pos, stdin, stdout, stderr))
}

// defaultPolicyDir is FRAUDSCORE_POLICY_DIR, or the lifecycle's default.
func defaultPolicyDir() string {
	if d := os.Getenv(worker.EnvPrefix + "_POLICY_DIR"); d != "" {
		return d
	}
	return lifecycle.DefaultConfig().PolicyDir
}

func (pc *policyCmd) run(ctx context.Context, f *policyFlags, pos []string, stdin io.Reader, stdout, stderr io.Writer) error {
	store := rules.OpenStore(f.dir)
	switch pc.name {
	case "list":
		return listPolicies(store, stdout)
	case "check":
		arg := ""
		if len(pos) > 0 {
			arg = pos[0]
		}
		set, err := loadPolicy(store, arg)
		if err != nil {
			return err
		}
		printCheck(set, stdout)
	case "promote":
		if err := store.Promote(pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "latest -> %s\n", pos[0])
	case "rollback":
		v, err := store.Rollback()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "latest -> %s\n", v)
	case "test":
		return testPolicy(store, f, pos, stdin, stdout)
	case "backtest":
		return backtestPolicy(ctx, store, f, pos, stdin, stdout, stderr)
	}
	return nil
}

// loadPolicy loads arg: a version of the store, a rules.yaml file, or
// latest when empty.
func loadPolicy(store *rules.Store, arg string) (*rules.Set, error) {
	if arg == "" {
		return store.LoadLatest()
	}
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		return rules.LoadFile(arg, arg)
	}
	return store.Load(arg)
}

func listPolicies(store *rules.Store, stdout io.Writer) error {
	vs, err := store.Versions()
	if err != nil {
		return err
	}
	latest, _ := store.Latest()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, v := range vs {
		mark := " "
		if v == latest {
			mark = "*"
		}
		set, err := store.Load(v)
		if err != nil {
			fmt.Fprintf(tw, "%s %s\trefused: %v\n", mark, v, err)
			continue
		}
		fmt.Fprintf(tw, "%s %s\t%d rules\n", mark, v, set.Len())
	}
	return tw.Flush()
}

// printCheck prints one line per rule of a set that passed.
func printCheck(set *rules.Set, stdout io.Writer) {
	fmt.Fprintf(stdout, "%s ok: %d rules, every example passed, cost limit %d\n", set.Version(), set.Len(), rules.MaxRuleCost)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "  RULE\tACTION\tCOST\tEXAMPLES\tLINE\n")
	for i := range set.Len() {
		r := set.Rule(i)
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\n", r.Name, r.Action, r.Cost, r.Examples, r.Line)
	}
	_ = tw.Flush()
	for i := range set.Len() {
		if r := set.Rule(i); r.Action == rules.ActionApprove {
			fmt.Fprintf(stdout, "note: %s has action approve, which never changes a decision (only allow lowers one)\n", r.Name)
		}
	}
}

// testPolicy evaluates one event against a set and prints the outcome.
func testPolicy(store *rules.Store, f *policyFlags, pos []string, stdin io.Reader, stdout io.Writer) error {
	set, err := loadPolicy(store, f.version)
	if err != nil {
		return err
	}
	in := stdin
	if len(pos) == 1 && pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
	}
	raw, err := io.ReadAll(io.LimitReader(in, contracts.DefaultMaxEventBytes+1))
	if err != nil {
		return err
	}
	var ev contracts.TransactionEvent
	if err := contracts.NewValidator().DecodeEvent(raw, &ev); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	input := rules.Input{Event: &ev}
	if f.score >= 0 {
		input.Score, input.Decision, input.ModelVersion = f.score, contracts.Decision(f.decision), "(given)"
		if f.reasons != "" {
			input.Reasons = strings.Split(f.reasons, ",")
		}
	} else {
		ps, err := newPolicyScorer(f.models)
		if err != nil {
			return err
		}
		if err := ps.score(&ev, &input); err != nil {
			return err
		}
	}
	out := set.Evaluate(&input, nil)
	fmt.Fprintf(stdout, "model %s: score %.6g, decision %s, reasons [%s]\n", input.ModelVersion, input.Score, input.Decision,
		strings.Join(input.Reasons, ","))
	if out.Rule < 0 {
		fmt.Fprintf(stdout, "rules %s: decision %s (the model decided)\n", set.Version(), out.Decision)
		return nil
	}
	fmt.Fprintf(stdout, "rules %s: decision %s by rule %s (%s)\n", set.Version(), out.Decision, out.RuleName, set.Rule(out.Rule).Action)
	return nil
}

// rowCopy keeps the feature row a scorer observed.
type rowCopy struct{ row []float64 }

func (r *rowCopy) Observe(row []float64, _ float64) { r.row = append(r.row[:0], row...) }

// policyScorer scores events with the latest model of a store as a worker
// with the default settings does, for the rules' input.
type policyScorer struct {
	loaded *modelstore.Loaded
	sc     *scorer.Scorer
	vd     contracts.Verdict
	rc     rowCopy
}

func newPolicyScorer(dir string) (*policyScorer, error) {
	loaded, err := modelstore.Open(dir).LoadLatest()
	if err != nil {
		return nil, fmt.Errorf("%w (or give -score and -decision)", err)
	}
	cfg := lifecycle.DefaultConfig()
	sc, err := scorer.New(loaded, scorer.Options{Reasons: cfg.Reasons, ReasonsTop: cfg.ReasonsTop})
	if err != nil {
		return nil, err
	}
	return &policyScorer{loaded: loaded, sc: sc}, nil
}

// score scores ev into in (whose reasons and features stay valid until the
// next call).
func (p *policyScorer) score(ev *contracts.TransactionEvent, in *rules.Input) error {
	if err := p.sc.ScoreObserved(ev, &p.vd, &p.rc); err != nil {
		return err
	}
	*in = rules.Input{Event: ev, Score: p.vd.Score, Decision: p.vd.Decision, ModelVersion: p.vd.ModelVersion,
		Reasons: p.vd.Reasons, Features: rules.FeatureValues(p.loaded.Meta.Features, p.rc.row)}
	return nil
}
