package scoreclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Result counts what Send did.
type Result struct {
	// Events is the number of requests sent.
	Events int
	// Verdicts is the number of verdicts received.
	Verdicts int
	// ServiceErrors is the number of error replies.
	ServiceErrors int
}

// Send reads events from r and scores them one after the other. The input
// is either one JSON document (spread over several lines, say) or NDJSON:
// when the first non-blank line is a JSON value by itself, every non-blank
// line is one event, read as it arrives (so a pipe can feed it). Events are
// sent as they are; the service judges them.
//
// Each verdict is written to out as one line of JSON. Each error reply is
// written to errs as one line, "line N: service error CODE: DESCRIPTION"
// (N is the event's first line), and does not stop the run: after the last
// event Send returns an error wrapping ErrService that counts them. Any other
// error (reading r, writing out, the connection, ErrTimeout, ErrNoService,
// ErrReply, ctx) stops it at once; the error names the event's line. An
// input without any event is ErrNoInput.
func (c *Client) Send(ctx context.Context, r io.Reader, out, errs io.Writer) (Result, error) {
	var res Result
	score := func(line int, event []byte) error {
		res.Events++
		rep, err := c.Score(ctx, event)
		var se *ServiceError
		if errors.As(err, &se) {
			res.ServiceErrors++
			_, err = fmt.Fprintf(errs, "line %d: service error %s: %s\n", line, oneLine(se.Code), oneLine(se.Description))
			return err
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		res.Verdicts++
		var b bytes.Buffer
		if err := json.Compact(&b, rep.Data); err != nil {
			return fmt.Errorf("line %d: %w: %w", line, ErrReply, err)
		}
		b.WriteByte('\n')
		_, err = out.Write(b.Bytes())
		return err
	}
	err := readEvents(r, score)
	if err == nil && res.ServiceErrors > 0 {
		err = fmt.Errorf("%w: %d of %d events", ErrService, res.ServiceErrors, res.Events)
	}
	return res, err
}

// readEvents calls f with each event of r and the number of its first line,
// in order, until f or reading fails.
func readEvents(r io.Reader, f func(line int, event []byte) error) error {
	br := bufio.NewReader(r)
	n := 0
	first, ndjson := 0, false
	var doc []byte // document mode: everything from the first non-blank line
	for {
		raw, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("scoreclient: read events: %w", rerr)
		}
		if len(raw) > 0 {
			n++
			line := bytes.TrimRight(raw, "\r\n")
			blank := len(bytes.TrimSpace(line)) == 0
			switch {
			case first == 0 && blank:
			case first == 0:
				first = n
				ndjson = json.Valid(line)
				if ndjson {
					if err := f(n, line); err != nil {
						return err
					}
				} else {
					doc = append(doc, raw...)
				}
			case ndjson && !blank:
				if err := f(n, line); err != nil {
					return err
				}
			case !ndjson:
				doc = append(doc, raw...)
			}
		}
		if rerr != nil { // io.EOF
			break
		}
	}
	if first != 0 && !ndjson {
		return f(first, bytes.TrimSpace(doc))
	}
	if first == 0 {
		return ErrNoInput
	}
	return nil
}

// oneLine keeps a reply's header value on its line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
