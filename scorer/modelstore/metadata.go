package modelstore

import (
	"time"

	"github.com/fraudscore/fraudscore/scorer/model"
)

// MetadataFile is the name of a version's metadata file.
const MetadataFile = "metadata.json"

// Metadata describes one model version. It travels with the model file in the
// version directory and is the model's contract with the scorer: the feature
// order, the thresholds, the training facts and the golden rows that the
// parity gate replays at every load.
type Metadata struct {
	// Version is the directory name, vYYYYMMDD_HHMMSS.
	Version string `json:"version"`
	// CreatedAt is when training finished (UTC).
	CreatedAt time.Time `json:"created_at"`
	// Framework and FrameworkVersion name the trainer (e.g. xgboost 1.7.4).
	Framework        string `json:"framework"`
	FrameworkVersion string `json:"framework_version"`
	// Objective is the training objective (binary:logistic).
	Objective string `json:"objective"`
	// ModelFile is the model's file name inside the version directory.
	ModelFile string `json:"model_file"`
	// ModelSHA256 is the hex sha256 of the model file; a mismatch means the
	// file was tampered with or corrupted and the version is refused.
	ModelSHA256 string `json:"model_sha256"`
	// Features are the model's input features, in order.
	Features []string `json:"features"`
	// Thresholds turn a score into a decision.
	Thresholds Thresholds `json:"thresholds"`
	// Params are the training hyper-parameters, for the record.
	Params map[string]any `json:"params,omitempty"`
	// Data describes the training data.
	Data DataInfo `json:"data"`
	// Training, Validation and Holdout metrics.
	Training   Metrics `json:"training"`
	Validation Metrics `json:"validation"`
	Holdout    Metrics `json:"holdout"`
	// HoldoutScores is the holdout score distribution, for drift checks.
	HoldoutScores Distribution `json:"holdout_score_distribution"`
	// FeatureBaselines are the holdout rows' histograms of every feature,
	// the baseline of live drift checks (package scorer/drift). Versions
	// trained before they existed have none; they load and serve as before,
	// without drift metrics.
	FeatureBaselines []FeatureBaseline `json:"feature_baselines,omitempty"`
	// GoldenRows are feature vectors with the probability the training
	// framework itself computed; loading replays them (the parity gate).
	GoldenRows []model.GoldenRow `json:"golden_rows"`
	// GoldenContributions are, for each golden row in order, the training
	// framework's own exact TreeSHAP contributions (XGBoost's pred_contribs:
	// every feature's, then the bias); loading replays them within
	// model.DefaultContributionTolerance. Versions trained before they
	// existed have none and load as before.
	GoldenContributions [][]float64 `json:"golden_contributions,omitempty"`
}

// Thresholds are the decision thresholds on the fraud probability: a score
// at or above Decline declines, at or above Review reviews, else approves.
type Thresholds struct {
	Review  float64 `json:"review"`
	Decline float64 `json:"decline"`
}

// DataInfo records where the training data came from.
type DataInfo struct {
	Generator string  `json:"generator"`
	Seed      uint64  `json:"seed"`
	Rows      int     `json:"rows"`
	FraudRate float64 `json:"fraud_rate"`
}

// Metrics are a model's quality on one split.
type Metrics struct {
	ROCAUC    float64 `json:"roc_auc"`
	PRAUC     float64 `json:"pr_auc"`
	Rows      int     `json:"rows"`
	FraudRate float64 `json:"fraud_rate"`
	// Precision and Recall at the decline threshold; ReviewRate and
	// DeclineRate are the share of rows that the thresholds send there.
	PrecisionAtDecline float64 `json:"precision_at_decline,omitempty"`
	RecallAtDecline    float64 `json:"recall_at_decline,omitempty"`
	RecallAtReview     float64 `json:"recall_at_review,omitempty"`
	ReviewRate         float64 `json:"review_rate,omitempty"`
	DeclineRate        float64 `json:"decline_rate,omitempty"`
}

// Distribution summarises a score distribution.
type Distribution struct {
	// Quantiles maps "p50", "p90", "p99", "p99.9" to scores.
	Quantiles map[string]float64 `json:"quantiles"`
	// Edges are histogram bucket upper bounds; Counts the rows per bucket.
	Edges  []float64 `json:"edges"`
	Counts []int     `json:"counts"`
}

// FeatureBaseline is one feature's distribution on the holdout rows. Its bins
// follow the rule of Distribution: bin i holds the values v with
// Edges[i-1] < v <= Edges[i], the first bin also every value below Edges[0]
// and the last bin every value above the last edge; a missing value (NaN)
// has a bin of its own, counted in Missing.
type FeatureBaseline struct {
	// Feature is the feature's name, as in Metadata.Features.
	Feature string `json:"feature"`
	// Edges are the bins' upper bounds, ascending and distinct: quantiles of
	// the training rows, deduplicated, so a discrete feature has one bin per
	// value or group of values.
	Edges []float64 `json:"edges"`
	// Counts are the holdout rows per bin (as many as Edges).
	Counts []int `json:"counts"`
	// Missing is the holdout rows where the feature is missing.
	Missing int `json:"missing"`
}
