package model

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPredictZeroAllocs(t *testing.T) {
	dir := leavesTestdata(t)
	lgb, err := LoadFile(filepath.Join(dir, "lg_breast_cancer.txt"))
	require.NoError(t, err)
	xgbm, err := LoadFile(filepath.Join("testdata", "xgb_small.json"))
	require.NoError(t, err)
	x := readMatrix(t, filepath.Join(dir, "lg_breast_cancer_data.txt"))[0]
	var sink float64
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := lgb.Predict(x)
		if err != nil {
			panic(err)
		}
		sink += p
	})
	require.Zero(t, allocs, "LightGBM Predict allocates")
	row := []float64{3, nanF(), 7}
	allocs = testing.AllocsPerRun(1000, func() {
		p, err := xgbm.Predict(row)
		if err != nil {
			panic(err)
		}
		sink += p
	})
	require.Zero(t, allocs, "XGBoost Predict allocates")
	require.NotZero(t, sink)
}

// TestPredictConcurrent runs Predict from many goroutines (meaningful under -race).
func TestPredictConcurrent(t *testing.T) {
	dir := leavesTestdata(t)
	m, err := LoadFile(filepath.Join(dir, "lg_breast_cancer.txt"))
	require.NoError(t, err)
	x := readMatrix(t, filepath.Join(dir, "lg_breast_cancer_data.txt"))
	want := make([]float64, len(x))
	for i := range x {
		want[i], err = m.Predict(x[i])
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- m.CheckParity(goldenRows(x, want), 0)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func BenchmarkPredict(b *testing.B) {
	b.Run("lightgbm_breast_cancer_39trees", func(b *testing.B) {
		dir := leavesTestdata(b)
		m, err := LoadFile(filepath.Join(dir, "lg_breast_cancer.txt"))
		require.NoError(b, err)
		x := readMatrix(b, filepath.Join(dir, "lg_breast_cancer_data.txt"))
		benchRows(b, m, x)
	})
	b.Run("xgboost_hist_100trees_depth6", func(b *testing.B) {
		dir := xgbFixtures(b)
		m, err := LoadFile(filepath.Join(dir, "hist_d6_100.json"))
		require.NoError(b, err)
		require.Equal(b, 100, m.NumTrees())
		x := readMatrix(b, filepath.Join(dir, "hist_d6_100_X.txt"))
		benchRows(b, m, x)
	})
}

func benchRows(b *testing.B, m *Model, x [][]float64) {
	b.ReportAllocs()
	b.ResetTimer()
	var sink float64
	i := 0
	for b.Loop() {
		p, err := m.Predict(x[i])
		if err != nil {
			b.Fatal(err)
		}
		sink += p
		if i++; i == len(x) {
			i = 0
		}
	}
	_ = sink
}
