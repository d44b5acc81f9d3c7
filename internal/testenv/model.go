package testenv

import (
	"sync"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

var (
	modelOnce sync.Once
	model     *modelstore.Loaded
	modelErr  error
)

// BundledModel loads the bundled latest version through the store's checks
// (sha256, features, parity gate), once per test process.
func BundledModel(t testing.TB) *modelstore.Loaded {
	t.Helper()
	modelOnce.Do(func() {
		root, err := Root()
		if err != nil {
			modelErr = err
			return
		}
		model, modelErr = modelstore.Open(root + "/models").LoadLatest()
	})
	if modelErr != nil {
		t.Fatalf("bundled model: %v", modelErr)
	}
	return model
}
