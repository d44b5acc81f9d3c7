package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// rowReader reads the input of `model predict` and `model explain`:
// tab-separated raw feature values in the model's order, one row a line,
// empty or "nan" for a missing value; blank lines are skipped and CRLF is
// accepted.
type rowReader struct {
	sc   *bufio.Scanner
	line int
	// Row holds the last row read; Line is its line number.
	Row []float64
}

func newRowReader(in io.Reader, numFeatures int) *rowReader {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	return &rowReader{sc: sc, Row: make([]float64, numFeatures)}
}

// Next reads the next row into Row. It returns false at the end of the
// input or on an error (a wrong number of fields, a non-numeric value, a
// read error), which Err then reports with its line.
func (r *rowReader) Next() (bool, error) {
	for r.sc.Scan() {
		r.line++
		text := strings.TrimRight(r.sc.Text(), "\r")
		if text == "" {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != len(r.Row) {
			return false, fmt.Errorf("line %d: %d fields, the model reads %d features", r.line, len(fields), len(r.Row))
		}
		for i, f := range fields {
			f = strings.TrimSpace(f)
			if f == "" || strings.EqualFold(f, "nan") {
				r.Row[i] = math.NaN()
				continue
			}
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return false, fmt.Errorf("line %d, field %d: %w", r.line, i+1, err)
			}
			r.Row[i] = v
		}
		return true, nil
	}
	return false, r.sc.Err()
}

// Line is the line number of the last row read.
func (r *rowReader) Line() int { return r.line }
