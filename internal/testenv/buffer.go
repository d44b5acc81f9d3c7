package testenv

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer that writers and readers may use at the same
// time: the output of a process or of a logger that a test reads while it
// is still being written. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Records returns the lines written so far that are JSON objects, decoded,
// in order: the records of a log/slog JSON handler. Other lines (and a last
// line still being written) are left out.
func (b *Buffer) Records() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(b.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec != nil {
			out = append(out, rec)
		}
	}
	return out
}

// Matching returns the records for which keep is true, in order.
func Matching(recs []map[string]any, keep func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// MsgIs is a Matching filter that keeps the records whose message (the
// log/slog "msg" key) is msg.
func MsgIs(msg string) func(map[string]any) bool {
	return func(r map[string]any) bool { return r["msg"] == msg }
}
