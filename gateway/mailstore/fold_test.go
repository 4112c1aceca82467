package mailstore

import (
	"math/rand"
	"strings"
	"testing"
)

// foldPieces are the texts' building blocks: ASCII letters of both cases, the two runes
// outside ASCII that lower-case into it (U+0130, U+212A), runes whose lower case has another
// length in UTF-8, a valid U+FFFD and bytes that are not UTF-8.
var foldPieces = []string{
	"a", "A", "e", "E", "i", "I", "k", "K", "n", "N", "s", "S", " ", ".", "\r\n",
	"İ", "K", "ß", "ẞ", "Σ", "σ", "ς", "é", "É", "Ω", "ω", "Ⱥ", "ⱥ", "\uFFFD", "\xff", "\xe2\x84", "\xc4",
}

func foldString(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(foldPieces[r.Intn(len(foldPieces))])
	}
	return b.String()
}

// TestContainsLowerMatchesToLower compares containsLower with the copy it replaces,
// strings.Contains(strings.ToLower(s), needle), on random texts and needles built from
// pieces where the two could differ, and on needles cut out of the lower-cased text at rune
// boundaries (which must be found).
func TestContainsLowerMatchesToLower(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	found := 0
	for range 200000 {
		s := foldString(r, r.Intn(40))
		needle := strings.ToLower(foldString(r, 1+r.Intn(3)))
		if r.Intn(2) == 0 {
			if lower := []rune(strings.ToLower(s)); len(lower) > 0 {
				i := r.Intn(len(lower))
				needle = string(lower[i:min(len(lower), i+1+r.Intn(4))])
			}
		}
		want := strings.Contains(strings.ToLower(s), needle)
		if got := containsLower(s, needle); got != want {
			t.Fatalf("containsLower(%q, %q) = %v, strings.ToLower says %v", s, needle, got, want)
		}
		if want {
			found++
		}
	}
	if found < 10000 {
		t.Fatalf("only %d of the cases matched: the comparison says little", found)
	}
	for _, c := range []struct {
		s, needle string
		want      bool
	}{
		{"Hello NEEDLE world", "needle", true},
		{"KELVIN", "kelvin", true},
		{"\u212Aelvin", "kelvin", true}, // KELVIN SIGN lower-cases to 'k'
		{"\u0130stanbul", "istanbul", true},
		{"NEEDL", "needle", false},
		{"", "x", false},
		{"abc", "", true},
	} {
		if got := containsLower(c.s, c.needle); got != c.want {
			t.Errorf("containsLower(%q, %q) = %v, want %v", c.s, c.needle, got, c.want)
		}
	}
}

// FuzzContainsLower: for any text and needle, containsLower says what
// strings.Contains(strings.ToLower(text), strings.ToLower(needle)) says.
func FuzzContainsLower(f *testing.F) {
	for _, c := range [][2]string{{"Hello NEEDLE", "needle"}, {"\u212Aelvin", "k"}, {"\u0130x", "ix"}, {"a\xffb", "\uFFFD"}, {"ΣΑΣ", "σας"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, s, needle string) {
		lower := strings.ToLower(needle)
		if got, want := containsLower(s, lower), strings.Contains(strings.ToLower(s), lower); got != want {
			t.Fatalf("containsLower(%q, %q) = %v, want %v", s, lower, got, want)
		}
	})
}

func BenchmarkContainsLower(b *testing.B) {
	text := strings.Repeat("Hello World, this is The Quick brown fox jumps over the lazy dog. Regards, Bob\r\n", 26)
	b.Run("ToLower", func(b *testing.B) {
		for range b.N {
			strings.Contains(strings.ToLower(text), "needle")
		}
	})
	b.Run("containsLower", func(b *testing.B) {
		for range b.N {
			containsLower(text, "needle")
		}
	})
}
