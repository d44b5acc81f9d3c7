package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/training"
)

const modelUsage = `usage: fraudscore model <command> [flags]

Commands:
  list                 list versions in the store, marking latest
  check [VERSION]      load a version (default: latest): sha256, features, parity gate
  promote VERSION      check VERSION, then point latest at it (atomic)
  rollback             point latest at the newest earlier version that passes check
  predict MODEL_FILE   score TSV rows from stdin (raw feature values in the model's
                       order; empty or nan = missing), one probability per line (17 significant digits)
  train                generate synthetic data, train with XGBoost, write a new version

Flags (list, check, promote, rollback, train):
  -dir DIR             model store directory (default $FRAUDSCORE_MODEL_DIR or ./models)
`

func runModel(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, modelUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("model "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	defDir := os.Getenv("FRAUDSCORE_MODEL_DIR")
	if defDir == "" {
		defDir = "models"
	}
	dir := fs.String("dir", defDir, "model store directory")
	rows := fs.Int("rows", 300_000, "train: synthetic transactions to generate")
	seed := fs.Uint64("seed", 20261127, "train: generator seed")
	rounds := fs.Int("rounds", 300, "train: maximum boosting rounds (early stopping on validation)")
	depth := fs.Int("max-depth", 5, "train: XGBoost max_depth")
	promote := fs.Bool("promote", false, "train: promote the new version to latest")
	python := fs.String("python", "/usr/bin/python3", "train: Python interpreter with the xgboost module")
	// Flags may come before or after the arguments (model promote v1 -dir x).
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	arg := func(i int) string {
		if i < len(pos) {
			return pos[i]
		}
		return ""
	}
	store := modelstore.Open(*dir)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "fraudscore model %s: %v\n", cmd, err)
		return 1
	}
	switch cmd {
	case "list":
		vs, err := store.Versions()
		if err != nil {
			return fail(err)
		}
		latest, _ := store.Latest()
		for _, v := range vs {
			mark := " "
			if v == latest {
				mark = "*"
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
		return 0
	case "check":
		v := arg(0)
		var err error
		if v == "" {
			if v, err = store.Latest(); err != nil {
				return fail(err)
			}
		}
		l, err := store.Load(v)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s ok: %s, %d trees, %d features, %d golden rows within %g\n",
			v, l.Model.Format(), l.Model.NumTrees(), l.Model.NumFeatures(), len(l.Meta.GoldenRows), model.DefaultParityTolerance)
		return 0
	case "promote":
		if len(pos) != 1 {
			return fail(errors.New("promote needs exactly one VERSION"))
		}
		if err := store.Promote(arg(0)); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "latest -> %s\n", arg(0))
		return 0
	case "rollback":
		v, err := store.Rollback()
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "latest -> %s\n", v)
		return 0
	case "predict":
		if len(pos) != 1 {
			return fail(errors.New("predict needs exactly one MODEL_FILE"))
		}
		if err := predict(arg(0), stdin, stdout); err != nil {
			return fail(err)
		}
		return 0
	case "train":
		meta, err := training.Train(ctx, store, training.Config{
			Rows: *rows, Seed: *seed, Rounds: *rounds, MaxDepth: *depth, Python: *python, Log: stdout,
		})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "wrote %s/%s: holdout ROC AUC %.4f, PR AUC %.4f\n", *dir, meta.Version, meta.Holdout.ROCAUC, meta.Holdout.PRAUC)
		if *promote {
			if err := store.Promote(meta.Version); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "latest -> %s\n", meta.Version)
		} else {
			fmt.Fprintf(stdout, "promote it with: fraudscore model promote -dir %s %s\n", *dir, meta.Version)
		}
		return 0
	}
	fmt.Fprintf(stderr, "fraudscore model: unknown command %q\n\n%s", cmd, modelUsage)
	return 2
}

// predict scores tab-separated rows of raw feature values.
func predict(path string, in io.Reader, out io.Writer) error {
	m, err := model.LoadFile(path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	w := bufio.NewWriter(out)
	defer w.Flush()
	vec := make([]float64, m.NumFeatures())
	buf := make([]byte, 0, 32)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != len(vec) {
			return fmt.Errorf("line %d: %d fields, the model reads %d features", line, len(fields), len(vec))
		}
		for i, f := range fields {
			f = strings.TrimSpace(f)
			if f == "" || strings.EqualFold(f, "nan") {
				vec[i] = math.NaN()
				continue
			}
			if vec[i], err = strconv.ParseFloat(f, 64); err != nil {
				return fmt.Errorf("line %d, field %d: %w", line, i+1, err)
			}
		}
		p, err := m.Predict(vec)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		buf = strconv.AppendFloat(buf[:0], p, 'g', 17, 64)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return sc.Err()
}
