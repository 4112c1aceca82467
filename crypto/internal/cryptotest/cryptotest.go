// Package cryptotest holds test helpers for the crypto packages: finding
// the interop corpus and the test fixtures, and running real peers (gpg,
// openssl) in throwaway homes. It is imported by tests only.
package cryptotest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequirePeersEnv makes a missing peer or corpus a failure instead of a skip.
const RequirePeersEnv = "SEALGATE_REQUIRE_PEERS"

// Missing skips the test, or fails it when SEALGATE_REQUIRE_PEERS=1.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(RequirePeersEnv) == "1" {
		t.Fatalf("%s is required (SEALGATE_REQUIRE_PEERS=1) but missing", what)
	}
	t.Skipf("skipping: %s not available (set SEALGATE_REQUIRE_PEERS=1 to make this a failure)", what)
}

// RepoRoot walks up from the working directory to the directory with go.mod.
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

// Corpus returns the interop corpus directory (../shared/interop-corpus
// beside the repository root), skipping when it is absent.
func Corpus(t testing.TB) string {
	t.Helper()
	d := filepath.Join(RepoRoot(t), "..", "shared", "interop-corpus")
	if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
		Missing(t, "interop corpus "+d)
	}
	return d
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

// LookPath finds a peer tool or skips.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name)
	}
	return p
}

// Run runs a command with stdin and returns stdout, stderr and the error.
func Run(t testing.TB, env []string, stdin []byte, name string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// GPG is a gpg with a throwaway GNUPGHOME.
type GPG struct {
	t    testing.TB
	Home string
}

// NewGPG creates a short-path GNUPGHOME (gpg-agent socket paths are
// limited in length) and kills its agent at cleanup.
func NewGPG(t testing.TB) *GPG {
	t.Helper()
	LookPath(t, "gpg")
	home := gnupgHome(t, "sg")
	g := &GPG{t: t, Home: home}
	return g
}

// Run runs gpg in batch mode with loopback pinentry.
func (g *GPG) Run(stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	g.t.Helper()
	full := append([]string{"--homedir", g.Home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--trust-model", "always"}, args...)
	return Run(g.t, nil, stdin, "gpg", full...)
}

// MustRun runs gpg and fails the test on error.
func (g *GPG) MustRun(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, errOut, err := g.Run(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %v: %v\n%s", args, err, errOut)
	}
	return out
}

// Import imports key files.
func (g *GPG) Import(files ...string) {
	g.t.Helper()
	g.MustRun(nil, append([]string{"--import"}, files...)...)
}

// gnupgHome makes a throwaway GNUPGHOME with a short path (gpg-agent socket paths are limited
// in length) and kills its agent and removes it at cleanup.
func gnupgHome(t testing.TB, prefix string) string {
	t.Helper()
	home, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	return home
}
