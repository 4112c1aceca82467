package mimecrypt

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
)

// detectRow is the expected classification of one message of the interop corpus.
type detectRow struct {
	file     string
	layers   []Kind
	partial  bool
	repaired bool
	parts    []Kind
}

// detectCorpus reads testdata/detect-corpus.txt (its first lines say the format).
func detectCorpus(t testing.TB) []detectRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "detect-corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := func(s string) []Kind {
		var out []Kind
		for _, name := range strings.Split(s, ",") {
			k := slices.Index(kindNames[:], name)
			if k < 0 {
				t.Fatalf("detect-corpus.txt: unknown kind %q", name)
			}
			out = append(out, Kind(k))
		}
		return out
	}
	var rows []detectRow
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 {
			t.Fatalf("detect-corpus.txt: %q has no layers", line)
		}
		row := detectRow{file: f[0], layers: kinds(f[1])}
		for _, flag := range f[2:] {
			switch {
			case flag == "partial":
				row.partial = true
			case flag == "repaired":
				row.repaired = true
			case strings.HasPrefix(flag, "parts="):
				row.parts = kinds(strings.TrimPrefix(flag, "parts="))
			default:
				t.Fatalf("detect-corpus.txt: %q: unknown %q", line, flag)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func TestDetectCorpus(t *testing.T) {
	dir := cryptotest.Corpus(t)
	seen := map[string]bool{}
	for _, row := range detectCorpus(t) {
		seen[row.file] = true
		t.Run(row.file, func(t *testing.T) {
			got := DetectBytes(cryptotest.ReadFile(t, filepath.Join(dir, row.file)))
			if !slices.Equal(got.Layers, row.layers) || got.Kind != row.layers[0] || got.Partial != row.partial ||
				got.Repaired != row.repaired || !slices.Equal(got.Parts, row.parts) && len(got.Parts)+len(row.parts) > 0 {
				t.Errorf("got %+v, want layers %v partial %v repaired %v parts %v", got, row.layers, row.partial, row.repaired, row.parts)
			}
		})
	}
	for _, g := range []string{"openpgp/eml/*.eml", "openpgp/eml/deltachat/*.eml", "smime/*.eml", "smime/*/*.eml", "smime/openssl-interop/*.env"} {
		files, _ := filepath.Glob(filepath.Join(dir, g))
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f)
			if !seen[filepath.ToSlash(rel)] {
				t.Errorf("%s has no detection row", rel)
			}
		}
	}
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\n\r\nsig\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: application/pkcs7-mime\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIAC\r\n"))
	f.Add([]byte("Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: application/pgp-encrypted\n\n--x\nContent-Type: application/octet-stream\n\n--x--\n"))
	if dir := filepath.Join(cryptotest.RepoRoot(f), "..", "shared", "interop-corpus"); dirExists(dir) {
		for _, row := range detectCorpus(f)[:20] {
			if b, err := os.ReadFile(filepath.Join(dir, row.file)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := DetectBytes(b)
		if len(r.Layers) == 0 || r.Kind != r.Layers[0] {
			t.Fatalf("inconsistent result %+v", r)
		}
	})
}

func dirExists(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// BenchmarkDetectCorpus classifies every message of the interop corpus (MIME parsing of
// PGP/MIME, S/MIME and plain messages from Thunderbird, OpenSSL and Delta Chat): the pipeline
// does this for every message it takes.
func BenchmarkDetectCorpus(b *testing.B) {
	dir := cryptotest.Corpus(b)
	var msgs [][]byte
	size := 0
	for _, row := range detectCorpus(b) {
		m := cryptotest.ReadFile(b, filepath.Join(dir, row.file))
		msgs = append(msgs, m)
		size += len(m)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			DetectBytes(m)
		}
	}
}
