package cryptotest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GPGSM is GnuPG's S/MIME tool with a throwaway GNUPGHOME whose agent
// takes passphrases from the command line (loopback pinentry).
type GPGSM struct {
	t    testing.TB
	Home string
}

// NewGPGSM creates the home and kills its agent at cleanup.
func NewGPGSM(t testing.TB) *GPGSM {
	t.Helper()
	LookPath(t, "gpgsm")
	home := gnupgHome(t, "sgsm")
	if err := os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte("allow-loopback-pinentry\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &GPGSM{t: t, Home: home}
}

// Run runs gpgsm in batch mode; passphrase answers every passphrase
// question (a PKCS#12 file's, a new key's). CRL and OCSP checks are off:
// the test certificates have no distribution points.
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
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// MustRun runs gpgsm with an empty passphrase and fails the test given to
// NewGPGSM on error (use Run in subtests).
func (g *GPGSM) MustRun(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, errOut, err := g.Run(stdin, "", args...)
	if err != nil {
		g.t.Fatalf("gpgsm %v: %v\n%s", args, err, errOut)
	}
	return out
}

// Trust marks a root certificate (by its SHA-1 fingerprint, colon-free
// hex, as gpgsm lists it) as trusted for S/MIME.
func (g *GPGSM) Trust(sha1Fingerprint string) {
	g.t.Helper()
	f, err := os.OpenFile(filepath.Join(g.Home, "trustlist.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		g.t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(sha1Fingerprint + " S relax\n")
}

// GenerateSelfSigned makes an RSA-2048 key and a self-signed certificate
// for email the way `gpgsm --gen-key` does (basicConstraints CA:TRUE,
// key usage for signing and encryption) and returns the PEM certificate.
func (g *GPGSM) GenerateSelfSigned(cn, email string) []byte {
	g.t.Helper()
	parm := "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign, encrypt\nSerial: random\n" +
		"Name-DN: CN=" + cn + ",O=Sealgate Test\nName-Email: " + email + "\n"
	pf := filepath.Join(g.Home, "gen.parm")
	if err := os.WriteFile(pf, []byte(parm), 0o600); err != nil {
		g.t.Fatal(err)
	}
	cert := g.MustRun(nil, "--armor", "--gen-key", pf)
	// --gen-key prints the certificate; it is not in the keybox until imported.
	g.MustRun(cert, "--import")
	return cert
}
