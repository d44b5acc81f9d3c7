package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/training"
	"github.com/fraudscore/fraudscore/worker"
)

// modelCmd is one `fraudscore model` subcommand.
type modelCmd struct {
	name, args, summary string
	minArgs, maxArgs    int
	store, train        bool // takes -dir; takes the training flags
	// own, when set, parses and runs the command with its own flags.
	own func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// modelCmds lists the model subcommands in the order the help shows them.
func modelCmds() []modelCmd {
	return []modelCmd{
		{name: "list", summary: "List the versions in the store, marking latest with * and the challenger with c.", store: true},
		{name: "check", args: "[VERSION]", maxArgs: 1, store: true,
			summary: "Load a version (default: latest) as a worker would: sha256, features, parity gate."},
		{name: "promote", args: "VERSION", minArgs: 1, maxArgs: 1, store: true,
			summary: "Check VERSION, then point latest at it (atomic). Promoting the challenger's version ends its\n" +
				"trial: the challenger link is cleared."},
		{name: "rollback", store: true, summary: "Point latest at the newest earlier version that passes check and is\n" +
			"not the challenger (a version on trial is not a known-good champion; promote it to make it latest)."},
		{name: "challenger", args: "set|clear|show", summary: challengerSummary, own: challengerCommand},
		{name: "predict", args: "MODEL_FILE", minArgs: 1, maxArgs: 1,
			summary: "Score TSV rows from stdin (raw feature values in the model's order; empty or nan = missing),\n" +
				"one probability per line (17 significant digits)."},
		{name: "explain", args: "MODEL_FILE", minArgs: 1, maxArgs: 1,
			summary: "Exact TreeSHAP contributions of TSV rows from stdin (read as predict reads them), one line\n" +
				"per row: each feature's contribution in the model's order, then the bias, tab-separated, in\n" +
				"log-odds (17 significant digits): the layout of XGBoost's predict(..., pred_contribs=True)."},
		{name: "train", store: true, train: true,
			summary: "Generate synthetic data, train with XGBoost, write a new version. By default the data is\n" +
				"the raw event stream of a population of cards and devices, and the velocity aggregates are\n" +
				"computed from it by scorer/velocity, as the worker computes them with FRAUDSCORE_VELOCITY=kv."},
		{name: "compare", summary: compareSummary, own: compareCommand},
	}
}

func modelUsage(w io.Writer) {
	fmt.Fprint(w, "usage: fraudscore model <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range modelCmds() {
		fmt.Fprintf(w, "  %-10s %-14s %s\n", c.name, c.args, strings.SplitN(c.summary, "\n", 2)[0])
	}
	fmt.Fprint(w, "\nfraudscore model <command> --help shows a command's flags.\n")
}

// modelFlags are the values of every model subcommand's flags.
type modelFlags struct {
	dir, python, rebaseline    string
	rows, rounds, depth, cards int
	seed                       uint64
	promote, upstream          bool
}

func runModel(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		modelUsage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		if len(args) > 1 { // model help list = model list --help
			return runModel(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		modelUsage(stdout)
		return 0
	}
	var mc *modelCmd
	for _, c := range modelCmds() {
		if c.name == args[0] {
			mc = &c
		}
	}
	if mc == nil {
		fmt.Fprintf(stderr, "fraudscore model: unknown command %q\n\n", args[0])
		modelUsage(stderr)
		return 2
	}
	if mc.own != nil {
		return mc.own(ctx, args[1:], stdout, stderr)
	}
	c := newCommand("model "+mc.name, mc.args, mc.summary, mc.minArgs, mc.maxArgs)
	var f modelFlags
	if mc.store {
		c.flags.StringVar(&f.dir, "dir", defaultModelDir(), "model store directory ($FRAUDSCORE_MODEL_DIR)")
	}
	if mc.train {
		c.flags.IntVar(&f.rows, "rows", training.DefaultRows, "synthetic transactions to train on (after the velocity warm-up)")
		c.flags.Uint64Var(&f.seed, "seed", 20261127, "generator seed")
		c.flags.IntVar(&f.cards, "cards", synthetic.DefaultPopulationCards, "cards of the synthetic population (devices: as many)")
		c.flags.BoolVar(&f.upstream, "upstream", false, "train on the generator's upstream aggregates (the models before issue 13)\n"+
			"instead of raw per-card streams with the aggregates computed by scorer/velocity")
		c.flags.IntVar(&f.rounds, "rounds", 300, "maximum boosting rounds (early stopping on validation)")
		c.flags.IntVar(&f.depth, "max-depth", 5, "XGBoost max_depth")
		c.flags.BoolVar(&f.promote, "promote", false, "promote the new version to latest")
		c.flags.StringVar(&f.python, "python", "/usr/bin/python3", "Python interpreter with the xgboost module")
		c.flags.StringVar(&f.rebaseline, "rebaseline", "", "instead of training: regenerate VERSION's training data from its metadata, check it\n"+
			"is the data the version was trained on (golden rows bit for bit) and rewrite only its\n"+
			"feature_baselines (the other flags are ignored)")
	}
	pos, code, ok := c.parse(args[1:], stdout, stderr)
	if !ok {
		return code
	}
	if err := mc.run(ctx, &f, pos, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "fraudscore model %s: %v\n", mc.name, err)
		return 1
	}
	return 0
}

// defaultModelDir is FRAUDSCORE_MODEL_DIR, or the lifecycle's default.
func defaultModelDir() string {
	if d := os.Getenv(worker.EnvPrefix + "_MODEL_DIR"); d != "" {
		return d
	}
	return lifecycle.DefaultConfig().ModelDir
}

// run runs the subcommand with its parsed flags and arguments.
func (mc *modelCmd) run(ctx context.Context, f *modelFlags, pos []string, stdin io.Reader, stdout io.Writer) error {
	store := modelstore.Open(f.dir)
	switch mc.name {
	case "list":
		return listModels(store, stdout)
	case "check":
		v := ""
		if len(pos) > 0 {
			v = pos[0]
		}
		var err error
		if v == "" {
			if v, err = store.Latest(); err != nil {
				return err
			}
		}
		l, err := store.Load(v)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, checkLine(l))
	case "promote":
		return promote(store, pos[0], stdout)
	case "rollback":
		was, _ := store.Latest()
		v, err := store.Rollback()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "latest -> %s\n", v)
		if c, err := store.Challenger(); err == nil && v < c && c < was {
			fmt.Fprintf(stdout, "skipped the challenger %s: rollback never picks the version on trial (promote it to make it latest)\n", c)
		}
	case "predict":
		return predict(pos[0], stdin, stdout)
	case "explain":
		return explain(pos[0], stdin, stdout)
	case "train":
		return train(ctx, store, f, stdout)
	}
	return nil
}

// checkLine is what check prints for a version that passed.
func checkLine(l *modelstore.Loaded) string {
	s := fmt.Sprintf("%s ok: %s, %d trees, %d features, %d golden rows within %g",
		l.Version, l.Model.Format(), l.Model.NumTrees(), l.Model.NumFeatures(), len(l.Meta.GoldenRows), model.DefaultParityTolerance)
	if l.Meta.GoldenContributions != nil {
		s += fmt.Sprintf(", their contributions within %g", model.DefaultContributionTolerance)
	}
	return s
}

// promote moves latest to version and says when that ended the
// challenger's trial.
func promote(store *modelstore.Store, version string, stdout io.Writer) error {
	challenger, _ := store.Challenger()
	if err := store.Promote(version); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "latest -> %s\n", version)
	if _, err := store.Challenger(); challenger == version && errors.Is(err, modelstore.ErrNoChallenger) {
		fmt.Fprintf(stdout, "challenger link cleared: %s is latest now\n", version)
	}
	return nil
}

func listModels(store *modelstore.Store, stdout io.Writer) error {
	vs, err := store.Versions()
	if err != nil {
		return err
	}
	latest, _ := store.Latest()
	challenger, _ := store.Challenger()
	if challenger != "" && !slices.Contains(vs, challenger) {
		fmt.Fprintf(stdout, "c %s  (missing: the challenger link points at no version; clear it)\n", challenger)
	}
	for _, v := range vs {
		mark := " "
		switch v {
		case latest:
			mark = "*"
		case challenger:
			mark = "c"
		}
		meta, err := store.ReadMetadata(v)
		if err != nil {
			fmt.Fprintf(stdout, "%s %s  (unreadable: %v)\n", mark, v, err)
			continue
		}
		fmt.Fprintf(stdout, "%s %s  %s %s  features=%d  holdout roc_auc=%.4f pr_auc=%.4f  review>=%.4g decline>=%.4g\n",
			mark, v, meta.Framework, meta.FrameworkVersion, len(meta.Features), meta.Holdout.ROCAUC, meta.Holdout.PRAUC,
			meta.Thresholds.Review, meta.Thresholds.Decline)
	}
	return nil
}

func train(ctx context.Context, store *modelstore.Store, f *modelFlags, stdout io.Writer) error {
	if f.rebaseline != "" {
		if _, err := training.Rebaseline(ctx, store, f.rebaseline, training.Config{Log: stdout}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rewrote the feature_baselines of %s/%s\n", f.dir, f.rebaseline)
		return nil
	}
	meta, err := training.Train(ctx, store, training.Config{
		Rows: f.rows, Seed: f.seed, Rounds: f.rounds, MaxDepth: f.depth, Python: f.python, Log: stdout,
		Upstream: f.upstream, Cards: f.cards,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/%s: holdout ROC AUC %.4f, PR AUC %.4f\n", f.dir, meta.Version, meta.Holdout.ROCAUC, meta.Holdout.PRAUC)
	if !f.promote {
		fmt.Fprintf(stdout, "promote it with: fraudscore model promote -dir %s %s\n", f.dir, meta.Version)
		return nil
	}
	return promote(store, meta.Version, stdout)
}

// predict scores tab-separated rows of raw feature values (rowReader).
func predict(path string, in io.Reader, out io.Writer) error {
	m, err := model.LoadFile(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	rows := newRowReader(in, m.NumFeatures())
	buf := make([]byte, 0, 32)
	for {
		ok, err := rows.Next()
		if !ok {
			return err
		}
		p, err := m.Predict(rows.Row)
		if err != nil {
			return fmt.Errorf("line %d: %w", rows.Line(), err)
		}
		buf = strconv.AppendFloat(buf[:0], p, 'g', 17, 64)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
}
