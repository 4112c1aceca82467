package peertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GnuPGHome makes a throwaway GNUPGHOME whose name starts with prefix. It is in the system's
// temporary directory, not the test's, because gpg-agent's socket path has a length limit;
// its agent is stopped and the directory removed when the test ends.
func GnuPGHome(t testing.TB, prefix string) string {
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

// GPG is gpg with a throwaway GNUPGHOME, run in batch mode with an empty passphrase and
// every key trusted.
type GPG struct {
	t    testing.TB
	Home string
}

// NewGPG makes the home (see GnuPGHome).
func NewGPG(t testing.TB) *GPG {
	t.Helper()
	Require(t, "gpg")
	return &GPG{t: t, Home: GnuPGHome(t, "sg")}
}

// Run runs gpg with args.
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

// GPGSM is GnuPG's S/MIME tool with a throwaway GNUPGHOME whose agent takes passphrases from
// the command line (loopback pinentry).
type GPGSM struct {
	t    testing.TB
	Home string
}

// NewGPGSM makes the home (see GnuPGHome).
func NewGPGSM(t testing.TB) *GPGSM {
	t.Helper()
	Require(t, "gpgsm")
	home := GnuPGHome(t, "sgsm")
	if err := os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte("allow-loopback-pinentry\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &GPGSM{t: t, Home: home}
}

// Run runs gpgsm in batch mode; passphrase answers every passphrase question (a PKCS#12
// file's, a new key's). CRL and OCSP checks are off: test certificates have no distribution
// points.
func (g *GPGSM) Run(stdin []byte, passphrase string, args ...string) (stdout, stderr []byte, err error) {
	g.t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		g.t.Fatal(err)
	}
	pw.WriteString(passphrase + "\n")
	pw.Close()
	defer pr.Close()
	// gpgsm 2.2 has no --passphrase-file: the passphrase comes on fd 3.
	full := append([]string{"--homedir", g.Home, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase-fd", "3",
		"--disable-crl-checks", "--disable-ocsp", "--status-fd", "2"}, args...)
	cmd := exec.Command("gpgsm", full...)
	cmd.ExtraFiles = []*os.File{pr}
	return run(cmd, stdin)
}

// MustRun runs gpgsm with passphrase and fails the test on error (use Run in subtests).
func (g *GPGSM) MustRun(stdin []byte, passphrase string, args ...string) []byte {
	g.t.Helper()
	out, errOut, err := g.Run(stdin, passphrase, args...)
	if err != nil {
		g.t.Fatalf("gpgsm %v: %v\n%s", args, err, errOut)
	}
	return out
}

// Trust marks a root certificate (by its SHA-1 fingerprint, colon-free hex, as gpgsm lists
// it) as trusted for S/MIME.
func (g *GPGSM) Trust(sha1Fingerprint string) {
	g.t.Helper()
	f, err := os.OpenFile(filepath.Join(g.Home, "trustlist.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		g.t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(sha1Fingerprint + " S relax\n")
}

// GenerateSelfSigned makes an RSA-2048 key and a self-signed certificate for email the way
// `gpgsm --gen-key` does (basicConstraints CA:TRUE, key usage for signing and encryption),
// imports it, and returns the PEM certificate.
func (g *GPGSM) GenerateSelfSigned(cn, email string) []byte {
	g.t.Helper()
	parm := "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign, encrypt\nSerial: random\n" +
		"Name-DN: CN=" + cn + ",O=Sealgate Test\nName-Email: " + email + "\n"
	pf := filepath.Join(g.Home, "gen.parm")
	if err := os.WriteFile(pf, []byte(parm), 0o600); err != nil {
		g.t.Fatal(err)
	}
	cert := g.MustRun(nil, "", "--armor", "--gen-key", pf)
	// --gen-key prints the certificate; it is not in the keybox until imported.
	g.MustRun(cert, "", "--import")
	return cert
}
