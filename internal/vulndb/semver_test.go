package vulndb

import "testing"

func TestCompareSemver(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "0.0.1", -1},
		{"1.2.0", "1.10.1", -1},
		{"1.10.1", "1.2.0", 1},
		{"1.0.0", "1.0.0", 0},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"0.0.0-20210101000000-abcdefabcdef", "0.0.0-20220101000000-abcdefabcdef", -1},
		{"0.0.0-20210101000000-abcdefabcdef", "0.1.0", -1},
		{"1.0.0+build.1", "1.0.0", 0},
	} {
		if got := compareSemver(c.a, c.b); got != c.want {
			t.Errorf("compareSemver(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareSemver(c.b, c.a); got != -c.want {
			t.Errorf("compareSemver(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}
