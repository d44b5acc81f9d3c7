package testenv

import (
	"io"
	"net/http"
	"testing"
)

// HTTPBody returns the body of a GET of url (a side port's /metrics, for
// example), failing the test on a transport error or a status other than
// 200.
func HTTPBody(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("testenv: GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testenv: GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	return string(body)
}
