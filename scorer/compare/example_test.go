package compare_test

import (
	"fmt"
	"os"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/compare"
)

// Feed an Aggregator the stored verdicts of a shadow trial, then print the
// comparison as text, or use the Report's fields (or encode it as JSON).
func Example() {
	var a compare.Aggregator
	for i, s := range []float64{0.01, 0.02, 0.40, 0.90} {
		champion := contracts.DecisionApprove
		if s > 0.5 {
			champion = contracts.DecisionDecline
		}
		vd := contracts.Verdict{
			TransactionID: fmt.Sprintf("tx-%d", i), ModelVersion: "v20261127_135446", Score: s, Decision: champion,
			ScoredAt: time.Date(2026, 12, 2, 10, i, 0, 0, time.UTC),
			Shadow:   []contracts.ShadowResult{{ModelVersion: "v20261202_090000", Score: s / 2, Decision: contracts.DecisionApprove}},
		}
		a.Add(&vd)
	}
	r := a.Report()
	if err := compare.WriteText(os.Stdout, &r); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("\nagreement %.2f, PSI %.3f\n", r.Pairs[0].AgreementRate, r.Pairs[0].PSI)
	// Output:
	// 4 verdicts, scored 2026-12-02T10:00:00Z .. 2026-12-02T10:03:00Z
	//
	// MODEL             SCORED  DECIDED  SHADOW  APPROVE  REVIEW  DECLINE  P50   P90   P99   P99.9
	// v20261127_135446  4       4        0       75.00%   0.00%   25.00%   0.02  0.9   0.9   0.9
	// v20261202_090000  4       0        4       100.00%  0.00%   0.00%    0.01  0.45  0.45  0.45
	//
	// champion v20261127_135446 vs challenger v20261202_090000: 4 transactions (champion decided 4, challenger 0)
	//   champion \ challenger  approve  review  decline
	//   approve                3        0       0
	//   review                 0        0       0
	//   decline                1        0       0
	//   agreement 75.00%; score PSI 2.1285 over 4 bins (deciles of the champion's scores)
	//
	// agreement 0.75, PSI 2.129
}
