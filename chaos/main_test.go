package chaos

import (
	"os"
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// TestMain removes the binaries testenv built once the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}
