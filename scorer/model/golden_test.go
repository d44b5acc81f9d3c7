package model

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGoldenRowJSONRoundTrip(t *testing.T) {
	rows := []GoldenRow{
		{Features: []float64{1.5, math.NaN(), -0.25, 5e-324, math.MaxFloat64}, Probability: 0.125},
		{Features: []float64{}, Probability: 1},
		{Features: nil, Probability: 0},
	}
	b, err := json.Marshal(rows)
	require.NoError(t, err)
	assert.JSONEq(t, `[{"features":[1.5,null,-0.25,5e-324,1.7976931348623157e+308],"probability":0.125},
		{"features":[],"probability":1},{"features":null,"probability":0}]`, string(b))
	var back []GoldenRow
	require.NoError(t, json.Unmarshal(b, &back))
	require.Len(t, back, 3)
	assert.Equal(t, 1.5, back[0].Features[0])
	assert.True(t, math.IsNaN(back[0].Features[1]))
	assert.Equal(t, rows[0].Features[2:], back[0].Features[2:])
	assert.Equal(t, 0.125, back[0].Probability)
	assert.Equal(t, []float64{}, back[1].Features)
	assert.Nil(t, back[2].Features)

	_, err = json.Marshal(GoldenRow{Features: []float64{math.Inf(1)}, Probability: 0.5})
	assert.Error(t, err)
	_, err = json.Marshal(GoldenRow{Features: []float64{1}, Probability: math.NaN()})
	assert.Error(t, err)
	var r GoldenRow
	assert.Error(t, json.Unmarshal([]byte(`{"features":[1]}`), &r), "probability is required")
	assert.Error(t, json.Unmarshal([]byte(`{"features":["x"],"probability":1}`), &r))
}

func TestCheckParityReports(t *testing.T) {
	m, err := LoadFile(filepath.Join(leavesTestdata(t), "lg_dart_breast_cancer.model"))
	require.NoError(t, err)
	x := readMatrix(t, filepath.Join(leavesTestdata(t), "breast_cancer_test.tsv"))
	rows := make([]GoldenRow, 4)
	for i := range rows {
		p, err := m.Predict(x[i])
		require.NoError(t, err)
		rows[i] = GoldenRow{Features: x[i], Probability: p}
	}
	require.NoError(t, m.CheckParity(rows, DefaultParityTolerance))
	require.NoError(t, m.CheckParity(rows, 0))

	bad := append([]GoldenRow(nil), rows...)
	bad[1].Probability += 2e-6
	bad[3].Probability -= 1
	err = m.CheckParity(bad, DefaultParityTolerance)
	require.ErrorIs(t, err, ErrParity)
	assert.Contains(t, err.Error(), "2 of 4 rows differ")
	assert.Contains(t, err.Error(), "first failing row 1")
	assert.Contains(t, err.Error(), "expected ")
	assert.Contains(t, err.Error(), "got ")
	require.NoError(t, m.CheckParity(bad[:1], DefaultParityTolerance))

	short := []GoldenRow{rows[0], {Features: x[0][:3], Probability: 0.5}}
	err = m.CheckParity(short, DefaultParityTolerance)
	require.ErrorIs(t, err, ErrParity)
	assert.Contains(t, err.Error(), "first failing row 1")
	assert.Contains(t, err.Error(), "expects 30 features")

	require.ErrorIs(t, m.CheckParity(nil, DefaultParityTolerance), ErrParity)
	require.ErrorIs(t, m.CheckParity(rows, math.NaN()), ErrParity)
	require.ErrorIs(t, m.CheckParity(rows, -1), ErrParity)
}
