package deadletters

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fraudscore/fraudscore/contracts"
)

// Show writes l for a person: where and when it was stored, its headers
// (sorted by name) and its payload, with every card number in header values
// and payload masked by contracts.RedactPANs and a line saying how many
// were. A payload that is not printable text is written Go-quoted.
func Show(w io.Writer, l *Letter) error {
	masked := 0
	fmt.Fprintf(w, "sequence %d on %s, stored %s\n", l.Sequence, l.Subject, l.Stored.UTC().Format(time.RFC3339Nano))
	names := make([]string, 0, len(l.Header))
	for k := range l.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		name, n := contracts.RedactPANString(k)
		masked += n
		for _, v := range l.Header[k] {
			v, n := contracts.RedactPANString(v)
			masked += n
			fmt.Fprintf(w, "%s: %s\n", name, quoteIfNeeded(v))
		}
	}
	data, n := contracts.RedactPANs(l.Data)
	masked += n
	fmt.Fprintf(w, "payload (%d bytes", len(l.Data))
	if masked > 0 {
		fmt.Fprintf(w, "; %d card numbers masked", masked)
	}
	if l.Redacted {
		fmt.Fprint(w, "; redacted by the worker: not the original input")
	}
	fmt.Fprint(w, "):\n")
	_, err := fmt.Fprintln(w, quoteIfNeeded(string(data)))
	return err
}

// quoteIfNeeded returns s, or s Go-quoted when it is not valid UTF-8 or
// holds a control character other than tab and newline.
func quoteIfNeeded(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' {
			return strconv.Quote(s)
		}
	}
	return s
}
