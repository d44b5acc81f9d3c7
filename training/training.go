// Package training builds a new model version reproducibly: synthetic
// transactions from package synthetic, velocity aggregates from package
// scorer/velocity and features from package features (the same code that
// serves), XGBoost (from Debian's packages) for the trees, golden rows and
// holdout metrics for the metadata, and the version directory in the model
// store.
package training

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/synthetic"
)

//go:embed train.py
var trainScript []byte

// ErrTrainer is returned (wrapped) when the XGBoost trainer fails or is missing.
var ErrTrainer = errors.New("training: trainer failed")

// Config configures a training run.
type Config struct {
	// Rows is the number of synthetic transactions (split 70/15/15, in
	// stream order), warm-up excluded.
	Rows int
	// Upstream trains on the default generator, whose events carry the
	// aggregates an upstream system computed (the bundled models before
	// issue 13), instead of on population mode's raw streams with the
	// aggregates computed by scorer/velocity (see Examples).
	Upstream bool
	// Cards and Devices size the population (synthetic.Population's
	// defaults when zero); population mode only.
	Cards, Devices int
	// WarmUp is the event time fed through velocity before the first row,
	// so that rows see a steady state rather than an empty one (default
	// 24h; negative: none); population mode only.
	WarmUp time.Duration
	// MissingAggregates is the fraction of rows trained without velocity
	// aggregates, as served when velocity is off or degraded (default 0.1;
	// negative: none); population mode only.
	MissingAggregates float64
	// Seed seeds the generator.
	Seed uint64
	// FraudRate is the generator's fraud rate (default 0.012).
	FraudRate float64
	// Rounds and EarlyStopping bound boosting (defaults 300 and 30).
	Rounds, EarlyStopping int
	// MaxDepth and LearningRate are XGBoost's max_depth and eta (5, 0.1).
	MaxDepth     int
	LearningRate float64
	// GoldenRows is how many holdout rows become golden rows (default 128).
	GoldenRows int
	// BaselineBins is the number of quantile bins of each feature's drift
	// baseline before deduplication (default 10).
	BaselineBins int
	// Python is the interpreter with the xgboost module (default /usr/bin/python3).
	Python string
	// Now stamps the version (default time.Now).
	Now func() time.Time
	// Log receives progress lines (default io.Discard).
	Log io.Writer
}

func (c *Config) defaults() {
	if c.Rows <= 0 {
		c.Rows = DefaultRows
	}
	if c.WarmUp == 0 {
		c.WarmUp = 24 * time.Hour
	}
	c.WarmUp = max(0, c.WarmUp)
	if c.MissingAggregates == 0 {
		c.MissingAggregates = 0.1
	}
	c.MissingAggregates = max(0, c.MissingAggregates)
	if c.Rounds <= 0 {
		c.Rounds = 300
	}
	if c.EarlyStopping <= 0 {
		c.EarlyStopping = 30
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 5
	}
	if c.LearningRate <= 0 {
		c.LearningRate = 0.1
	}
	if c.GoldenRows <= 0 {
		c.GoldenRows = 128
	}
	if c.BaselineBins <= 1 {
		c.BaselineBins = 10
	}
	if c.Python == "" {
		c.Python = "/usr/bin/python3"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// DefaultRows is the number of rows Train generates when Config.Rows is 0.
const DefaultRows = 300_000

// populationConfig is the generator configuration of population mode.
func (c *Config) populationConfig() synthetic.Config {
	return synthetic.Config{Seed: c.Seed, FraudRate: c.FraudRate,
		Population: &synthetic.Population{Cards: c.Cards, Devices: c.Devices}}
}

// generatorName describes the training data in metadata.json's
// data.generator.
func (c *Config) generatorName() string {
	if c.Upstream {
		return "synthetic"
	}
	cards, devices := c.Cards, c.Devices
	if cards <= 0 {
		cards = synthetic.DefaultPopulationCards
	}
	if devices <= 0 {
		devices = cards
	}
	return fmt.Sprintf("synthetic/population cards=%d devices=%d aggregates=scorer/velocity warmup=%s missing_aggregates=%g",
		cards, devices, c.WarmUp, c.MissingAggregates)
}

type row struct {
	label float64
	f     [features.Count]float64
	// masked is Example.Masked: trained on, left out of the drift
	// baselines (featureBaselines).
	masked bool
}

// generateRows runs Examples (cfg after its defaults) and returns its rows
// and how many are fraud.
func generateRows(ctx context.Context, cfg Config) ([]row, int, error) {
	rows := make([]row, 0, cfg.Rows)
	frauds := 0
	for ex, err := range Examples(ctx, cfg) {
		if err != nil {
			return nil, 0, err
		}
		r := row{f: ex.Features, masked: ex.Masked}
		if ex.Label.Fraud {
			r.label = 1
			frauds++
		}
		rows = append(rows, r)
	}
	return rows, frauds, nil
}

// splitRows cuts rows into the train, validation and holdout splits: 70/15/15
// of cfg.Rows, in stream order.
func splitRows(rows []row, n int) (train, valid, holdout []row) {
	nTrain := n * 70 / 100
	nValid := n * 15 / 100
	return rows[:nTrain], rows[nTrain : nTrain+nValid], rows[nTrain+nValid:]
}

// Train generates data, trains, and writes a new version into store. It
// returns the new version's metadata; the version is loaded once through the
// store (sha256, features and parity gate) before Train returns, but latest is
// not moved. Beside metadata.json it writes ComparisonFile: the champion
// (latest) on the new holdout, and the new version on the upstream-aggregate
// data when it was trained on population mode.
func Train(ctx context.Context, store *modelstore.Store, cfg Config) (modelstore.Metadata, error) {
	cfg.defaults()
	var meta modelstore.Metadata
	work, err := os.MkdirTemp("", "fraudscore-train-")
	if err != nil {
		return meta, fmt.Errorf("training: %w", err)
	}
	defer os.RemoveAll(work)

	rows, frauds, err := generateRows(ctx, cfg)
	if err != nil {
		return meta, err
	}
	trainRows, validRows, holdoutRows := splitRows(rows, cfg.Rows)
	splits := []struct {
		name string
		rows []row
	}{
		{"train.f64", trainRows},
		{"valid.f64", validRows},
		{"holdout.f64", holdoutRows},
	}
	for _, s := range splits {
		if err := writeRows(filepath.Join(work, s.name), s.rows); err != nil {
			return meta, err
		}
	}
	params := map[string]any{
		"objective":        "binary:logistic",
		"tree_method":      "hist",
		"max_depth":        cfg.MaxDepth,
		"eta":              cfg.LearningRate,
		"subsample":        0.9,
		"colsample_bytree": 0.9,
		"min_child_weight": 2,
		"seed":             int(cfg.Seed % (1 << 31)),
		"nthread":          2,
	}
	pj, _ := json.Marshal(map[string]any{"params": params, "rounds": cfg.Rounds, "early_stopping": cfg.EarlyStopping, "features": features.Names()})
	if err := os.WriteFile(filepath.Join(work, "params.json"), pj, 0o644); err != nil {
		return meta, fmt.Errorf("training: %w", err)
	}
	holdout := splits[2].rows
	golden := goldenIndex(holdout, cfg.GoldenRows)
	gj, _ := json.Marshal(golden)
	if err := os.WriteFile(filepath.Join(work, "golden_idx.json"), gj, 0o644); err != nil {
		return meta, fmt.Errorf("training: %w", err)
	}
	script := filepath.Join(work, "train.py")
	if err := os.WriteFile(script, trainScript, 0o644); err != nil {
		return meta, fmt.Errorf("training: %w", err)
	}
	fmt.Fprintf(cfg.Log, "training: %d rows (%d fraud, %.2f%%) from %s, seed %d, XGBoost via %s\n",
		cfg.Rows, frauds, 100*float64(frauds)/float64(cfg.Rows), cfg.generatorName(), cfg.Seed, cfg.Python)
	cmd := exec.CommandContext(ctx, cfg.Python, script, work)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return meta, fmt.Errorf("%w: %s %s: %w: %s", ErrTrainer, cfg.Python, script, err, strings.TrimSpace(string(out)))
	}
	var res struct {
		XGBoostVersion string             `json:"xgboost_version"`
		BestIteration  int                `json:"best_iteration"`
		Train          map[string]float64 `json:"train"`
		Valid          map[string]float64 `json:"valid"`
		Holdout        map[string]float64 `json:"holdout"`
	}
	if err := readJSON(filepath.Join(work, "result.json"), &res); err != nil {
		return meta, err
	}
	modelData, err := os.ReadFile(filepath.Join(work, "model.json"))
	if err != nil {
		return meta, fmt.Errorf("training: %w", err)
	}
	preds, err := readPreds(filepath.Join(work, "holdout_pred.txt"), len(holdout))
	if err != nil {
		return meta, err
	}
	contribs, err := readContribs(filepath.Join(work, "golden_contribs.txt"), len(golden), features.Count+1)
	if err != nil {
		return meta, err
	}
	labels := make([]float64, len(holdout))
	for i := range holdout {
		labels[i] = holdout[i].label
	}
	th := chooseThresholds(preds, labels)
	meta = modelstore.Metadata{
		Version:          modelstore.VersionName(cfg.Now()),
		CreatedAt:        cfg.Now().UTC().Truncate(time.Second),
		Framework:        "xgboost",
		FrameworkVersion: res.XGBoostVersion,
		Objective:        "binary:logistic",
		Features:         features.Names(),
		Thresholds:       th,
		Params:           params,
		Data: modelstore.DataInfo{
			Generator: cfg.generatorName(), Seed: cfg.Seed, Rows: cfg.Rows,
			FraudRate: float64(frauds) / float64(cfg.Rows),
		},
		Training:         splitMetrics(splits[0].rows, res.Train),
		Validation:       splitMetrics(splits[1].rows, res.Valid),
		Holdout:          holdoutMetrics(preds, labels, th),
		HoldoutScores:    distribution(servedScores(holdout, preds)),
		FeatureBaselines: featureBaselines(features.Names(), splits[0].rows, holdout, cfg.BaselineBins),
		GoldenRows:       goldenRows(holdout, preds, golden),
		// XGBoost's own pred_contribs for the golden rows: loading checks
		// the Go TreeSHAP against them.
		GoldenContributions: contribs,
	}
	meta.Params["num_boost_round"] = res.BestIteration
	if _, err := store.Write(meta, "model.json", modelData); err != nil {
		return meta, err
	}
	if err := WriteDefaultReasons(store, meta.Version); err != nil {
		return meta, err
	}
	loaded, err := store.Load(meta.Version)
	if err != nil {
		return meta, fmt.Errorf("training: the new version fails its own checks: %w", err)
	}
	meta = loaded.Meta
	cmp, err := compare(ctx, store, loaded, cfg, holdout)
	if err != nil {
		return meta, err
	}
	if err := writeComparison(store, meta.Version, cmp); err != nil {
		return meta, err
	}
	fmt.Fprintf(cfg.Log, "training: %s: %d trees; holdout ROC AUC %.4f, PR AUC %.4f (XGBoost's own eval: auc %.4f, aucpr %.4f)\n",
		meta.Version, loaded.Model.NumTrees(), meta.Holdout.ROCAUC, meta.Holdout.PRAUC, res.Holdout["auc"], res.Holdout["aucpr"])
	fmt.Fprintf(cfg.Log, "training: thresholds review %.4f decline %.4f: decline precision %.3f recall %.3f, review+decline recall %.3f, review rate %.4f, decline rate %.4f\n",
		th.Review, th.Decline, meta.Holdout.PrecisionAtDecline, meta.Holdout.RecallAtDecline, meta.Holdout.RecallAtReview, meta.Holdout.ReviewRate, meta.Holdout.DeclineRate)
	if m := cmp.ChampionOnThisHoldout; m != nil {
		fmt.Fprintf(cfg.Log, "training: the champion %s on this holdout: ROC AUC %.4f, PR AUC %.4f, decline precision %.3f recall %.3f, review+decline recall %.3f\n",
			cmp.Champion, m.ROCAUC, m.PRAUC, m.PrecisionAtDecline, m.RecallAtDecline, m.RecallAtReview)
	}
	if m := cmp.UpstreamHoldoutMetrics; m != nil {
		fmt.Fprintf(cfg.Log, "training: %s on the upstream-aggregate holdout (%s): ROC AUC %.4f, PR AUC %.4f, decline precision %.3f recall %.3f, review+decline recall %.3f\n",
			meta.Version, cmp.UpstreamHoldout, m.ROCAUC, m.PRAUC, m.PrecisionAtDecline, m.RecallAtDecline, m.RecallAtReview)
	}
	return meta, nil
}

// writeRows writes rows as little-endian float64: the label then the
// features, row after row. NaN stays NaN: no text round trip can alter a
// value between Go and XGBoost.
func writeRows(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	w := bufio.NewWriter(f)
	var b [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		w.Write(b[:])
	}
	for i := range rows {
		put(rows[i].label)
		for _, v := range rows[i].f {
			put(v)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("training: write %s: %w", path, err)
	}
	return f.Close()
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("training: %s: %w", path, err)
	}
	return nil
}

func readPreds(path string, n int) ([]float64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	lines := strings.Fields(string(raw))
	if len(lines) != n {
		return nil, fmt.Errorf("%w: %d predictions for %d holdout rows", ErrTrainer, len(lines), n)
	}
	out := make([]float64, n)
	for i, l := range lines {
		if out[i], err = strconv.ParseFloat(l, 64); err != nil {
			return nil, fmt.Errorf("%w: prediction %d: %w", ErrTrainer, i, err)
		}
	}
	return out, nil
}

// readContribs reads n lines of width tab-separated numbers: the trainer's
// pred_contribs for the golden rows.
func readContribs(path string, n, width int) ([][]float64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != n {
		return nil, fmt.Errorf("%w: %d contribution rows for %d golden rows", ErrTrainer, len(lines), n)
	}
	out := make([][]float64, n)
	for i, l := range lines {
		fields := strings.Split(l, "\t")
		if len(fields) != width {
			return nil, fmt.Errorf("%w: contribution row %d has %d values, want %d", ErrTrainer, i, len(fields), width)
		}
		out[i] = make([]float64, width)
		for j, f := range fields {
			if out[i][j], err = strconv.ParseFloat(f, 64); err != nil {
				return nil, fmt.Errorf("%w: contribution row %d: %w", ErrTrainer, i, err)
			}
		}
	}
	return out, nil
}

// goldenIndex picks n holdout rows (their indices, ascending): fraud rows
// first, up to a quarter (they exercise the deep branches), then the rest,
// so both classes and missing values appear. Labels alone decide, so the
// trainer can be asked for the golden rows' contributions before any
// prediction exists.
func goldenIndex(rows []row, n int) []int {
	idx := []int{}
	for i := range rows {
		if rows[i].label == 1 && len(idx) < n/4 {
			idx = append(idx, i)
		}
	}
	for i := 0; len(idx) < n && i < len(rows); i++ {
		if rows[i].label == 0 {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	return idx
}

// servedScores are the predictions of the rows that are not masked: the
// score drift baseline describes the traffic the model expects to serve,
// velocity computed, as the feature baselines do (featureBaselines). The
// holdout metrics and the thresholds keep every row. All the predictions
// when every row is masked.
func servedScores(rows []row, preds []float64) []float64 {
	out := make([]float64, 0, len(preds))
	for i := range rows {
		if !rows[i].masked {
			out = append(out, preds[i])
		}
	}
	if len(out) == 0 {
		return preds
	}
	return out
}

// goldenRows are the rows idx with the trainer's probabilities preds.
func goldenRows(rows []row, preds []float64, idx []int) []model.GoldenRow {
	out := make([]model.GoldenRow, 0, len(idx))
	for _, i := range idx {
		out = append(out, model.GoldenRow{Features: slices.Clone(rows[i].f[:]), Probability: preds[i]})
	}
	return out
}

func splitMetrics(rows []row, xgbEval map[string]float64) modelstore.Metrics {
	fr := 0.0
	for i := range rows {
		fr += rows[i].label
	}
	return modelstore.Metrics{ROCAUC: xgbEval["auc"], PRAUC: xgbEval["aucpr"], Rows: len(rows), FraudRate: fr / float64(max(1, len(rows)))}
}
