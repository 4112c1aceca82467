package peertest

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot walks up from the working directory (the package of the test) to the directory
// with go.mod. The shared corpora the peers' messages come from are beside it, in
// ../shared.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// Shared returns the path of rel in the folder of shared corpora and suites ("shared"),
// which is beside the repository, or beside the folder of worktrees the repository is
// checked out in; "" when it is in neither.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	root := RepoRoot(t)
	for _, d := range []string{filepath.Join(root, "..", "shared"), filepath.Join(root, "..", "..", "shared")} {
		if p := filepath.Join(d, rel); exists(p) {
			return p
		}
	}
	return ""
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// InteropCorpus returns the shared corpus of messages and keys made by other mail clients and
// libraries (shared/interop-corpus, see Shared); when it is missing, see Missing.
func InteropCorpus(t testing.TB) string {
	t.Helper()
	p := Shared(t, filepath.Join("interop-corpus", "README.md"))
	if p == "" {
		Missing(t, "the interop corpus (shared/interop-corpus)")
	}
	return filepath.Dir(p)
}
