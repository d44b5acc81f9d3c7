package deadletters

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AgeBounds are the upper bounds of the age buckets of a Summary: a letter
// younger than one hour, younger than a day, and older (the last bucket has
// no bound).
var AgeBounds = [...]time.Duration{time.Hour, 24 * time.Hour}

// AgeLabels name the buckets of ReasonSummary.Ages, in order.
var AgeLabels = [len(AgeBounds) + 1]string{"<1h", "1h-24h", ">=24h"}

// ReasonSummary counts the dead letters of one reason.
type ReasonSummary struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
	// Ages counts the letters by age at the time of the summary: younger
	// than AgeBounds[0], younger than AgeBounds[1], older (AgeLabels).
	Ages [len(AgeBounds) + 1]int `json:"ages"`
	// Oldest and Newest are the store times of the oldest and newest letter.
	Oldest time.Time `json:"oldest"`
	Newest time.Time `json:"newest"`
}

// Summary counts dead letters by reason and age.
type Summary struct {
	Stream string `json:"stream"`
	// At is the time the ages are measured from.
	At      time.Time       `json:"at"`
	Total   int             `json:"total"`
	Reasons []ReasonSummary `json:"reasons"` // by reason name
}

// Add counts l.
func (s *Summary) Add(l *Letter) {
	i := slices.IndexFunc(s.Reasons, func(r ReasonSummary) bool { return r.Reason == l.Reason })
	if i < 0 {
		s.Reasons = append(s.Reasons, ReasonSummary{Reason: l.Reason, Oldest: l.Stored, Newest: l.Stored})
		slices.SortFunc(s.Reasons, func(a, b ReasonSummary) int { return cmp.Compare(a.Reason, b.Reason) })
		i = slices.IndexFunc(s.Reasons, func(r ReasonSummary) bool { return r.Reason == l.Reason })
	}
	r := &s.Reasons[i]
	r.Count++
	s.Total++
	age := s.At.Sub(l.Stored)
	b := len(AgeBounds)
	for j, bound := range AgeBounds {
		if age < bound {
			b = j
			break
		}
	}
	r.Ages[b]++
	if l.Stored.Before(r.Oldest) {
		r.Oldest = l.Stored
	}
	if l.Stored.After(r.Newest) {
		r.Newest = l.Stored
	}
}

// Summarise reads the dead letters sel selects and counts them by reason
// and by age at now.
func Summarise(ctx context.Context, js jetstream.JetStream, sel Selection, now time.Time) (*Summary, error) {
	s := &Summary{Stream: cmp.Or(sel.Stream, DefaultStream), At: now}
	_, err := Read(ctx, js, sel, func(l *Letter) error {
		s.Add(l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// WriteText writes s as a table, one row per reason, times in UTC.
func (s *Summary) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "stream %s: %d dead letters (ages at %s)\n", s.Stream, s.Total, s.At.UTC().Format(time.RFC3339))
	if s.Total == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "reason\tcount\t%s\t%s\t%s\toldest\tnewest\t\n", AgeLabels[0], AgeLabels[1], AgeLabels[2])
	for _, r := range s.Reasons {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", r.Reason, r.Count, r.Ages[0], r.Ages[1], r.Ages[2],
			r.Oldest.UTC().Format(time.RFC3339), r.Newest.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}
