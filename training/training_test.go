package training_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/model"
	"github.com/fraudscore/fraudscore/scorer/modelstore"
	"github.com/fraudscore/fraudscore/training"
)

// smallConfig trains on 20 000 rows of a population of 2000 cards: three
// days of its stream after the warm-up, so the fraud rate (the same around
// the clock, while legitimate traffic is mostly by day) averages out.
func smallConfig(now time.Time, log *bytes.Buffer) training.Config {
	return training.Config{
		Rows: 20_000, Seed: 7, Rounds: 30, Cards: 2000,
		Now: func() time.Time { return now }, Log: log,
	}
}

// TestTrainSmoke trains a small model into a temporary store and checks the
// new version end to end: parity gate, metadata, promotion.
func TestTrainSmoke(t *testing.T) {
	if _, err := os.Stat(testenv.Python); err != nil {
		t.Skipf("no %s: %v", testenv.Python, err)
	}
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	store := modelstore.Open(dir)
	now := time.Date(2026, 11, 28, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	var log bytes.Buffer
	meta, err := training.Train(context.Background(), store, smallConfig(now, &log))
	require.NoError(t, err, "log:\n%s", log.String())
	t.Logf("%s", log.String())

	assert.Equal(t, "v20261128_083000", meta.Version, "version from Now, in UTC")
	assert.Equal(t, now.UTC(), meta.CreatedAt)
	vs, err := store.Versions()
	require.NoError(t, err)
	assert.Equal(t, []string{meta.Version}, vs)
	_, err = store.Latest()
	assert.ErrorIs(t, err, modelstore.ErrNoLatest, "Train does not move latest")

	// The new version passes its own parity gate through the store.
	l, err := store.Load(meta.Version)
	require.NoError(t, err)
	wantJSON, err := json.Marshal(meta) // JSON: golden rows hold NaN, which != NaN
	require.NoError(t, err)
	gotJSON, err := json.Marshal(l.Meta)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(gotJSON))

	raw, err := os.ReadFile(filepath.Join(dir, meta.Version, meta.ModelFile))
	require.NoError(t, err)
	sum := sha256.Sum256(raw)
	assert.Equal(t, hex.EncodeToString(sum[:]), meta.ModelSHA256)
	assert.Equal(t, "model.json", meta.ModelFile)
	assert.Equal(t, model.FormatXGBoostJSON, l.Model.Format())
	assert.Equal(t, features.Names(), meta.Features)
	assert.Equal(t, features.Names(), l.Model.FeatureNames())
	assert.Equal(t, "xgboost", meta.Framework)
	assert.Regexp(t, `^\d+\.\d+`, meta.FrameworkVersion)
	assert.Equal(t, "binary:logistic", meta.Objective)
	rounds, ok := meta.Params["num_boost_round"].(float64)
	require.True(t, ok, "num_boost_round recorded: %v", meta.Params)
	assert.Equal(t, float64(l.Model.NumTrees()), rounds)
	assert.LessOrEqual(t, l.Model.NumTrees(), 30)

	th := meta.Thresholds
	assert.True(t, 0 < th.Review && th.Review <= th.Decline && th.Decline <= 1, "thresholds %+v", th)

	assert.Equal(t, 20_000, meta.Data.Rows)
	assert.Equal(t, uint64(7), meta.Data.Seed)
	assert.InDelta(t, 0.012, meta.Data.FraudRate, 0.004)
	assert.Equal(t, 14_000, meta.Training.Rows)
	assert.Equal(t, 3_000, meta.Validation.Rows)
	assert.Equal(t, 3_000, meta.Holdout.Rows)
	for name, m := range map[string]modelstore.Metrics{"training": meta.Training, "validation": meta.Validation, "holdout": meta.Holdout} {
		assert.Greater(t, m.ROCAUC, 0.8, name)
		assert.LessOrEqual(t, m.ROCAUC, 1.0, name)
		assert.Greater(t, m.PRAUC, 0.3, name)
		assert.LessOrEqual(t, m.PRAUC, 1.0, name)
		assert.Positive(t, m.FraudRate, name)
	}
	h := meta.Holdout
	assert.Positive(t, h.PrecisionAtDecline)
	assert.GreaterOrEqual(t, h.RecallAtReview, h.RecallAtDecline)
	assert.InDelta(t, 0.02, h.ReviewRate+h.DeclineRate, 0.02)

	// Our holdout ROC AUC agrees with XGBoost's own evaluation (logged).
	m := regexp.MustCompile(`XGBoost's own eval: auc ([0-9.]+)`).FindStringSubmatch(log.String())
	require.Len(t, m, 2, "log:\n%s", log.String())
	xgbAUC, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	assert.InDelta(t, xgbAUC, h.ROCAUC, 2e-4)

	// Golden rows: present, of the model's width, both with and without
	// missing values, and every one reproduced by the Go model.
	require.Len(t, meta.GoldenRows, 128)
	withNaN := 0
	for _, r := range meta.GoldenRows {
		require.Len(t, r.Features, features.Count)
		for _, v := range r.Features {
			if math.IsNaN(v) {
				withNaN++
				break
			}
		}
	}
	assert.Positive(t, withNaN)
	assert.Less(t, withNaN, len(meta.GoldenRows))
	require.NoError(t, l.Model.CheckParity(meta.GoldenRows, model.DefaultParityTolerance))
	assert.NotEmpty(t, meta.HoldoutScores.Quantiles)

	// Golden contributions: XGBoost's pred_contribs for every golden row
	// (features and bias), written to metadata.json and met by the Go
	// TreeSHAP (the store checked them at load; checked again here).
	require.Len(t, l.Meta.GoldenContributions, len(meta.GoldenRows))
	for _, c := range l.Meta.GoldenContributions {
		require.Len(t, c, features.Count+1)
	}
	require.NoError(t, l.Model.CheckContributions(meta.GoldenRows, l.Meta.GoldenContributions, model.DefaultContributionTolerance))

	// Drift baselines: one per feature, in order, every holdout row that is
	// not masked (about 90%) counted once, velocity never missing on them,
	// the score distribution over the same rows; a Monitor accepts them.
	require.Len(t, meta.FeatureBaselines, features.Count)
	served := 0
	for _, c := range meta.HoldoutScores.Counts {
		served += c
	}
	assert.InDelta(t, 0.9*float64(meta.Holdout.Rows), served, 0.02*float64(meta.Holdout.Rows), "the masked rows left out")
	for i, fb := range meta.FeatureBaselines {
		assert.Equal(t, meta.Features[i], fb.Feature)
		assert.NotEmpty(t, fb.Edges, fb.Feature)
		assert.LessOrEqual(t, len(fb.Edges), 10, fb.Feature)
		assert.Len(t, fb.Counts, len(fb.Edges), fb.Feature)
		n := fb.Missing
		for _, c := range fb.Counts {
			n += c
		}
		assert.Equal(t, served, n, fb.Feature)
		if fb.Feature == features.CardTxnCount1h || fb.Feature == features.LogCardAmount24h {
			assert.Zero(t, fb.Missing, "%s: velocity is computed on every row the baseline keeps", fb.Feature)
		}
	}
	_, err = drift.NewMonitor(meta.Version, meta.Features, drift.BaselineFrom(meta), 0)
	require.NoError(t, err)

	// Beside it: no champion to compare with, and the new model on the
	// upstream-aggregate data's holdout (the same split of the default
	// generator).
	var cmp training.Comparison
	raw, err = os.ReadFile(filepath.Join(dir, meta.Version, training.ComparisonFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cmp))
	assert.Empty(t, cmp.Champion)
	assert.Nil(t, cmp.ChampionOnThisHoldout)
	require.NotNil(t, cmp.UpstreamHoldoutMetrics)
	assert.Equal(t, "synthetic seed=7 rows 17000..19999 of 20000", cmp.UpstreamHoldout)
	assert.Equal(t, 3000, cmp.UpstreamHoldoutMetrics.Rows)
	assert.Greater(t, cmp.UpstreamHoldoutMetrics.ROCAUC, 0.5)
	assert.Positive(t, cmp.UpstreamHoldoutMetrics.FraudRate)

	require.NoError(t, store.Promote(meta.Version))
	latest, err := store.Latest()
	require.NoError(t, err)
	assert.Equal(t, meta.Version, latest)

	// Same seed, same clock: the version exists and is never overwritten.
	_, err = training.Train(context.Background(), store, smallConfig(now, &bytes.Buffer{}))
	assert.Error(t, err)
	latest, _ = store.Latest()
	assert.Equal(t, meta.Version, latest)
}

// TestTrainReproducible trains twice from the same seed: the same model.
func TestTrainReproducible(t *testing.T) {
	if _, err := os.Stat(testenv.Python); err != nil {
		t.Skipf("no %s: %v", testenv.Python, err)
	}
	if testing.Short() {
		t.Skip("trains a model")
	}
	now := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	cfg := smallConfig(now, &bytes.Buffer{})
	cfg.Rows, cfg.Rounds = 10_000, 10
	store := modelstore.Open(t.TempDir())
	a, err := training.Train(context.Background(), store, cfg)
	require.NoError(t, err)
	require.NoError(t, store.Promote(a.Version))
	cfg.Now = func() time.Time { return now.Add(time.Second) }
	b, err := training.Train(context.Background(), store, cfg)
	require.NoError(t, err)
	assert.NotEqual(t, a.Version, b.Version)
	assert.Equal(t, a.ModelSHA256, b.ModelSHA256)
	assert.Equal(t, a.Thresholds, b.Thresholds)

	// b's comparison measures the champion a on b's holdout: the same
	// model on the same rows, so b's own holdout metrics (from XGBoost's
	// predictions; a's are the Go model's, within the parity tolerance).
	var cmp training.Comparison
	raw, err := os.ReadFile(filepath.Join(store.Dir(), b.Version, training.ComparisonFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cmp))
	assert.Equal(t, a.Version, cmp.Champion)
	require.NotNil(t, cmp.ChampionOnThisHoldout)
	got, want := *cmp.ChampionOnThisHoldout, b.Holdout
	assert.Equal(t, want.Rows, got.Rows)
	assert.Equal(t, want.FraudRate, got.FraudRate)
	for name, pair := range map[string][2]float64{
		"roc_auc": {want.ROCAUC, got.ROCAUC}, "pr_auc": {want.PRAUC, got.PRAUC},
		"recall_at_decline": {want.RecallAtDecline, got.RecallAtDecline}, "decline_rate": {want.DeclineRate, got.DeclineRate},
		"recall_at_review": {want.RecallAtReview, got.RecallAtReview}, "review_rate": {want.ReviewRate, got.ReviewRate},
	} {
		assert.InDelta(t, pair[0], pair[1], 1e-3, name)
	}
}

func TestTrainWithoutTrainer(t *testing.T) {
	cfg := smallConfig(time.Now(), &bytes.Buffer{})
	cfg.Rows = 1000
	cfg.Python = filepath.Join(t.TempDir(), "no-python")
	store := modelstore.Open(t.TempDir())
	_, err := training.Train(context.Background(), store, cfg)
	require.Error(t, err)
	assert.ErrorIs(t, err, training.ErrTrainer)
	vs, err := store.Versions()
	if err == nil {
		assert.Empty(t, vs, "no version is written when training fails")
	}
}
