package verdictstream

import (
	"strconv"
	"strings"

	"github.com/fraudscore/fraudscore/contracts"
)

// LineTime is the layout of the time in AppendLine: UTC with milliseconds.
const LineTime = "2006-01-02T15:04:05.000Z07:00"

// AppendLine appends a readable one-line summary of vd to b, without a
// newline: when it was scored (UTC, LineTime), transaction id, decision,
// score (four decimals), model version and, when there are any, the reason
// codes joined by commas. Fields are separated by two spaces:
//
//	2026-12-02T10:00:01.123Z  tx-42  decline  0.9731  v20261127_135446  HIGH_AMOUNT,NEW_DEVICE
func AppendLine(b []byte, vd *contracts.Verdict) []byte {
	b = vd.ScoredAt.UTC().AppendFormat(b, LineTime)
	b = append(b, "  "...)
	b = append(b, vd.TransactionID...)
	b = append(b, "  "...)
	b = append(b, vd.Decision...)
	b = append(b, "  "...)
	b = strconv.AppendFloat(b, vd.Score, 'f', 4, 64)
	b = append(b, "  "...)
	b = append(b, vd.ModelVersion...)
	if len(vd.Reasons) > 0 {
		b = append(b, "  "...)
		b = append(b, strings.Join(vd.Reasons, ",")...)
	}
	return b
}
