package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/fraudscore/fraudscore/scorer/model"
)

// explain prints the exact TreeSHAP contributions of tab-separated rows of
// raw feature values (rowReader, as predict reads them): per row each
// feature's contribution in the model's order, then the bias, tab-separated,
// %.17g. A model file without node covers is refused before any row is read.
func explain(path string, in io.Reader, out io.Writer) error {
	m, err := model.LoadFile(path)
	if err != nil {
		return err
	}
	if !m.HasCovers() {
		return fmt.Errorf("%s: %w", path, m.Contributions(make([]float64, m.NumFeatures()), make([]float64, m.NumFeatures()+1)))
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	rows := newRowReader(in, m.NumFeatures())
	contribs := make([]float64, m.NumFeatures()+1)
	buf := make([]byte, 0, 24*len(contribs))
	for {
		ok, err := rows.Next()
		if !ok {
			return err
		}
		if err := m.Contributions(rows.Row, contribs); err != nil {
			return fmt.Errorf("line %d: %w", rows.Line(), err)
		}
		buf = buf[:0]
		for i, c := range contribs {
			if i > 0 {
				buf = append(buf, '\t')
			}
			buf = strconv.AppendFloat(buf, c, 'g', 17, 64)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
}
