package compare

import "time"

// Report is the comparison of the verdicts an Aggregator was fed, and the
// JSON document `fraudscore model compare -json` prints.
type Report struct {
	// Source says where the verdicts came from. The Aggregator leaves it
	// zero; the caller that read them fills it.
	Source Source `json:"source"`
	// Verdicts is the number of verdicts compared; Skipped the number
	// refused by Add (a decision outside approve/review/decline, a score
	// outside [0, 1], an empty model version, or a shadow entry naming the
	// deciding model).
	Verdicts int `json:"verdicts"`
	Skipped  int `json:"skipped"`
	// FirstScoredAt and LastScoredAt bound the verdicts' scored_at.
	FirstScoredAt time.Time `json:"first_scored_at"`
	LastScoredAt  time.Time `json:"last_scored_at"`
	// Decisions names the rows and columns of every agreement matrix, in
	// order: approve, review, decline.
	Decisions []string `json:"decisions"`
	// Models has one entry per model version, ordered by version.
	Models []Model `json:"models"`
	// Pairs has one entry per pair of versions that scored the same
	// transactions, ordered by champion then challenger version.
	Pairs []Pair `json:"pairs"`
}

// Source describes what was read: a stream and a range of it.
type Source struct {
	// Stream is the stream's name (VERDICTS).
	Stream string `json:"stream,omitempty"`
	// Since is the start time asked for, when the range was a time range.
	Since *time.Time `json:"since,omitempty"`
	// Last is the number of verdicts asked for, when the range was the last N.
	Last int `json:"last,omitempty"`
	// FirstSeq and LastSeq are the stream sequences of the first and last
	// verdicts read.
	FirstSeq uint64 `json:"first_seq,omitempty"`
	LastSeq  uint64 `json:"last_seq,omitempty"`
	// Undecodable counts the messages on verdict subjects that were not
	// valid verdicts and were skipped before the comparison.
	Undecodable int `json:"undecodable"`
}

// Model is one model version's share of the verdicts.
type Model struct {
	// Version is the model version.
	Version string `json:"model_version"`
	// Scored is the number of transactions the version scored: Decided as
	// the deciding model plus Shadow as a shadow entry.
	Scored  int `json:"scored"`
	Decided int `json:"decided"`
	Shadow  int `json:"shadow"`
	// Counts and Rates are the decisions over every scored transaction:
	// the ones it decided and the ones it would have decided in shadow.
	Counts DecisionCounts `json:"decision_counts"`
	Rates  DecisionRates  `json:"decision_rates"`
	// Quantiles are nearest-rank quantiles of every score it gave.
	Quantiles Quantiles `json:"score_quantiles"`
}

// DecisionCounts counts decisions.
type DecisionCounts struct {
	Approve int `json:"approve"`
	Review  int `json:"review"`
	Decline int `json:"decline"`
}

// DecisionRates are decisions as fractions of a total, in [0, 1].
type DecisionRates struct {
	Approve float64 `json:"approve"`
	Review  float64 `json:"review"`
	Decline float64 `json:"decline"`
}

// Quantiles are score quantiles (nearest rank, see Quantile).
type Quantiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
}

// Pair compares two versions over the transactions both scored.
//
// The champion is the version that decided more of those transactions (all
// of them in shadow mode, the larger share in split mode); on a tie, the
// lower version name, which for vYYYYMMDD_HHMMSS names is the older model.
type Pair struct {
	Champion   string `json:"champion"`
	Challenger string `json:"challenger"`
	// Transactions is the number of verdicts in which both scored; the
	// champion decided ChampionDecided of them, the challenger the rest.
	Transactions      int `json:"transactions"`
	ChampionDecided   int `json:"champion_decided"`
	ChallengerDecided int `json:"challenger_decided"`
	// Agreement counts transactions by the champion's decision (row) and
	// the challenger's (column), both in the order of Report.Decisions.
	Agreement [3][3]int `json:"agreement"`
	// AgreementRate is the share on the diagonal: both decided the same.
	AgreementRate float64 `json:"agreement_rate"`
	// PSI is drift.PSI of the challenger's scores (actual) against the
	// champion's (expected), counted in the same bins.
	PSI float64 `json:"psi"`
	// Bins says how the scores were binned ("deciles of the champion's
	// scores"); BinEdges are the bins' inclusive upper edges, the champion's
	// nearest-rank 10th, 20th, ..., 100th percentiles, binned by drift.Bin: a
	// score v is in the first bin i with v <= BinEdges[i], and a score above
	// the last edge (a challenger scoring higher than the champion ever did)
	// in the last bin. Equal deciles are merged, so there may be fewer than
	// 10 bins.
	Bins     string    `json:"bins"`
	BinEdges []float64 `json:"bin_edges"`
	// ChampionBins and ChallengerBins count each model's scores per bin.
	ChampionBins   []int `json:"champion_bin_counts"`
	ChallengerBins []int `json:"challenger_bin_counts"`
}

// BinsDeciles is Pair.Bins: what the PSI bins are.
const BinsDeciles = "deciles of the champion's scores"
