// Package cryptotest holds test helpers for the crypto packages: finding
// the interop corpus and the test fixtures, timing an operation. The real peers (gpg, gpgsm,
// openssl) are run by internal/peertest, which LookPath, Run and NewGPG
// name here for the crypto tests. It is imported by tests only.
package cryptotest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealgate/sealgate/crypto/peertest"
)

// RepoRoot is the directory with go.mod (see peertest.RepoRoot).
func RepoRoot(t testing.TB) string {
	t.Helper()
	return peertest.RepoRoot(t)
}

// Corpus returns the interop corpus directory (see peertest.InteropCorpus).
func Corpus(t testing.TB) string {
	t.Helper()
	return peertest.InteropCorpus(t)
}

// Testdata returns testdata/crypto in the repository.
func Testdata(t testing.TB) string {
	return filepath.Join(RepoRoot(t), "testdata", "crypto")
}

// ReadFile reads a file byte for byte or fails.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// LookPath finds a peer tool or skips (see peertest.Require).
func LookPath(t testing.TB, name string) string {
	t.Helper()
	return peertest.Require(t, name)
}

// Run runs a command with stdin and returns stdout, stderr and the error (see peertest.Run).
func Run(t testing.TB, env []string, stdin []byte, name string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	return peertest.Run(t, env, stdin, name, args...)
}

// GPG is a gpg with a throwaway GNUPGHOME (see peertest.GPG).
type GPG = peertest.GPG

// NewGPG makes a gpg home for t (see peertest.NewGPG).
func NewGPG(t testing.TB) *GPG {
	t.Helper()
	return peertest.NewGPG(t)
}

// Throughput runs op b.N times as a benchmark of size bytes an operation, with its
// allocations; the first error fails it. What the caller did before is not timed.
func Throughput(b *testing.B, size int64, op func() error) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
}
