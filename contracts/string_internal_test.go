package contracts

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// appendString must escape exactly like encoding/json.
func checkAppendString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, string(want), string(appendString(nil, s)), "%q", s)
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted"`, `back\slash`, "<script>&amp;</script>", "\x00\x01\x08\x0c\x1f\x7f",
		"\n\r\t", "é€😀", "\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "\ufffd"} {
		checkAppendString(t, s)
	}
	for b := 0; b < 256; b++ {
		checkAppendString(t, string([]byte{'x', byte(b), 'y'}))
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello")
	f.Add("<\u2028\xff>")
	f.Fuzz(checkAppendString)
}
