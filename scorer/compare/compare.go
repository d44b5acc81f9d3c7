package compare

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/drift"
)

// Aggregator accumulates verdicts for a Report. The zero value is ready to
// use; it is not safe for concurrent use.
type Aggregator struct {
	models      map[string]*modelAcc
	pairs       map[[2]string]*pairAcc
	verdicts    int
	skipped     int
	first, last time.Time
}

type modelAcc struct {
	decided, shadow int
	counts          [3]int
	scores          []float64
}

// pairAcc accumulates one unordered pair; index 0 is the lower version.
type pairAcc struct {
	decided [2]int
	matrix  [3][3]int // [decision of 0][decision of 1]
	scores  [2][]float64
}

// decisionIndex is d's index in contracts.Decisions, or -1.
func decisionIndex(d contracts.Decision) int {
	for i, k := range contracts.Decisions {
		if d == k {
			return i
		}
	}
	return -1
}

func validResult(version string, score float64, d contracts.Decision) bool {
	return version != "" && score >= 0 && score <= 1 && decisionIndex(d) >= 0 // score test also refuses NaN
}

// Add accumulates one verdict and reports whether it was used. A verdict
// with a decision outside approve/review/decline, a score outside [0, 1]
// (or NaN), an empty model version, or a shadow entry with any of those or
// naming the deciding version is skipped whole and counted in
// Report.Skipped.
func (a *Aggregator) Add(vd *contracts.Verdict) bool {
	ok := validResult(vd.ModelVersion, vd.Score, vd.Decision)
	for i := range vd.Shadow {
		sr := &vd.Shadow[i]
		ok = ok && validResult(sr.ModelVersion, sr.Score, sr.Decision) && sr.ModelVersion != vd.ModelVersion
	}
	if !ok {
		a.skipped++
		return false
	}
	if a.models == nil {
		a.models = make(map[string]*modelAcc)
		a.pairs = make(map[[2]string]*pairAcc)
	}
	a.verdicts++
	if a.first.IsZero() || vd.ScoredAt.Before(a.first) {
		a.first = vd.ScoredAt
	}
	if vd.ScoredAt.After(a.last) {
		a.last = vd.ScoredAt
	}
	dec := a.model(vd.ModelVersion)
	dec.decided++
	dec.counts[decisionIndex(vd.Decision)]++
	dec.scores = append(dec.scores, vd.Score)
	for i := range vd.Shadow {
		sr := &vd.Shadow[i]
		m := a.model(sr.ModelVersion)
		m.shadow++
		m.counts[decisionIndex(sr.Decision)]++
		m.scores = append(m.scores, sr.Score)
		a.addPair(vd.ModelVersion, vd.Score, vd.Decision, sr.ModelVersion, sr.Score, sr.Decision)
	}
	return true
}

func (a *Aggregator) model(version string) *modelAcc {
	m := a.models[version]
	if m == nil {
		m = &modelAcc{}
		a.models[version] = m
	}
	return m
}

// addPair records one transaction scored by the decider d and the shadow s.
func (a *Aggregator) addPair(dv string, ds float64, dd contracts.Decision, sv string, ss float64, sd contracts.Decision) {
	key, di, si := [2]string{dv, sv}, 0, 1
	if sv < dv {
		key, di, si = [2]string{sv, dv}, 1, 0
	}
	p := a.pairs[key]
	if p == nil {
		p = &pairAcc{}
		a.pairs[key] = p
	}
	p.decided[di]++
	p.scores[di] = append(p.scores[di], ds)
	p.scores[si] = append(p.scores[si], ss)
	dec := [2]int{}
	dec[di], dec[si] = decisionIndex(dd), decisionIndex(sd)
	p.matrix[dec[0]][dec[1]]++
}

// Report computes the comparison of every verdict added so far. It does not
// change the Aggregator; more verdicts may be added after it.
func (a *Aggregator) Report() Report {
	r := Report{
		Verdicts: a.verdicts, Skipped: a.skipped, FirstScoredAt: a.first, LastScoredAt: a.last,
		Decisions: make([]string, len(contracts.Decisions)),
		Models:    []Model{}, Pairs: []Pair{},
	}
	for i, d := range contracts.Decisions {
		r.Decisions[i] = string(d)
	}
	for _, v := range slices.Sorted(maps.Keys(a.models)) {
		r.Models = append(r.Models, a.models[v].report(v))
	}
	for key, p := range a.pairs {
		r.Pairs = append(r.Pairs, p.report(key))
	}
	slices.SortFunc(r.Pairs, func(x, y Pair) int {
		return cmp.Or(cmp.Compare(x.Champion, y.Champion), cmp.Compare(x.Challenger, y.Challenger))
	})
	return r
}

func (m *modelAcc) report(version string) Model {
	n := m.decided + m.shadow
	sorted := slices.Sorted(slices.Values(m.scores))
	out := Model{
		Version: version, Scored: n, Decided: m.decided, Shadow: m.shadow,
		Counts:    DecisionCounts{Approve: m.counts[0], Review: m.counts[1], Decline: m.counts[2]},
		Quantiles: Quantiles{P50: Quantile(sorted, 500), P90: Quantile(sorted, 900), P99: Quantile(sorted, 990), P999: Quantile(sorted, 999)},
	}
	if n > 0 {
		out.Rates = DecisionRates{
			Approve: float64(m.counts[0]) / float64(n),
			Review:  float64(m.counts[1]) / float64(n),
			Decline: float64(m.counts[2]) / float64(n),
		}
	}
	return out
}

func (p *pairAcc) report(key [2]string) Pair {
	ch, cl := 0, 1 // champion and challenger indexes into key
	if p.decided[1] > p.decided[0] {
		ch, cl = 1, 0
	}
	n := len(p.scores[0])
	out := Pair{
		Champion: key[ch], Challenger: key[cl], Transactions: n,
		ChampionDecided: p.decided[ch], ChallengerDecided: p.decided[cl], Bins: BinsDeciles,
	}
	for i := range 3 {
		for j := range 3 {
			if ch == 0 {
				out.Agreement[i][j] = p.matrix[i][j]
			} else {
				out.Agreement[i][j] = p.matrix[j][i]
			}
		}
		out.AgreementRate += float64(out.Agreement[i][i])
	}
	out.AgreementRate /= float64(n)
	out.BinEdges = decileEdges(slices.Sorted(slices.Values(p.scores[ch])))
	out.ChampionBins = binCounts(out.BinEdges, p.scores[ch])
	out.ChallengerBins = binCounts(out.BinEdges, p.scores[cl])
	out.PSI = drift.PSI(toFloats(out.ChampionBins), toFloats(out.ChallengerBins))
	return out
}

func binCounts(edges, scores []float64) []int {
	c := make([]int, len(edges))
	for _, s := range scores {
		c[drift.Bin(edges, s)]++
	}
	return c
}

func toFloats(c []int) []float64 {
	f := make([]float64, len(c))
	for i, v := range c {
		f[i] = float64(v)
	}
	return f
}
