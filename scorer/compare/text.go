package compare

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// WriteText writes r as aligned plain-text tables: one row per model
// version, then per pair its agreement matrix and PSI.
func WriteText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	p("%d verdicts", r.Verdicts)
	if r.Verdicts > 0 {
		p(", scored %s .. %s", r.FirstScoredAt.UTC().Format(time.RFC3339), r.LastScoredAt.UTC().Format(time.RFC3339))
	}
	if r.Skipped > 0 {
		p(" (%d skipped: invalid decision, score or version)", r.Skipped)
	}
	p("\n\nMODEL\tSCORED\tDECIDED\tSHADOW\tAPPROVE\tREVIEW\tDECLINE\tP50\tP90\tP99\tP99.9\n")
	for _, m := range r.Models {
		q := m.Quantiles
		p("%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Version, m.Scored, m.Decided, m.Shadow,
			pct(m.Rates.Approve), pct(m.Rates.Review), pct(m.Rates.Decline),
			score(q.P50), score(q.P90), score(q.P99), score(q.P999))
	}
	if len(r.Pairs) == 0 {
		p("\nno champion/challenger pairs: no verdict has a shadow entry\n")
	}
	for _, pr := range r.Pairs {
		p("\nchampion %s vs challenger %s: %d transactions (champion decided %d, challenger %d)\n",
			pr.Champion, pr.Challenger, pr.Transactions, pr.ChampionDecided, pr.ChallengerDecided)
		p("  champion \\ challenger")
		for _, d := range r.Decisions {
			p("\t%s", d)
		}
		p("\n")
		for i, d := range r.Decisions {
			p("  %s", d)
			for j := range r.Decisions {
				p("\t%d", pr.Agreement[i][j])
			}
			p("\n")
		}
		p("  agreement %s; score PSI %.4f over %d bins (%s)\n", pct(pr.AgreementRate), pr.PSI, len(pr.ChampionBins), pr.Bins)
	}
	return tw.Flush()
}

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 2, 64) + "%" }

func score(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }
