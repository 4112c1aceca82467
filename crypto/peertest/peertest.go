// Package peertest runs the outside programs that tests check Sealgate against (gpg, gpgsm,
// openssl, sq, rnp, python3, Dovecot, ...). It is imported by tests only.
//
// A missing program skips the test, or fails it when SEALGATE_REQUIRE_PEERS is set (CI sets
// it), so that a missing peer never lets a test pass quietly there.
package peertest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv names the environment variable that makes a missing peer a failure.
const RequireEnv = "SEALGATE_REQUIRE_PEERS"

// Missing skips the test for want of what, or fails it when RequireEnv is set.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is missing and %s is set", what, RequireEnv)
	}
	t.Skipf("%s is missing", what)
}

// Require returns the path of the program name, found in $PATH or else in /usr/sbin (where
// Debian installs daemons such as postfix, outside an ordinary user's $PATH); see Missing.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); runnable(p) {
		return p
	}
	Missing(t, name)
	return ""
}

// runnable reports whether path is a regular file with an execute bit.
func runnable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// RequireFile checks that what, installed at a fixed path, is there; see Missing.
func RequireFile(t testing.TB, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, what+" ("+path+")")
	}
}

// Run runs name with args, stdin (nil: none) and env added to the environment, and returns
// what it wrote to standard output and standard error.
func Run(t testing.TB, env []string, stdin []byte, name string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return run(cmd, stdin)
}

// run runs cmd with stdin (nil: none) and returns its standard output and error.
func run(cmd *exec.Cmd, stdin []byte) (stdout, stderr []byte, err error) {
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// MustRun is Run of a program that Require finds, failing the test when it fails.
func MustRun(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	Require(t, name)
	out, errOut, err := Run(t, nil, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errOut)
	}
	return out
}

// Python runs script with python3 and args, and fails the test unless it ends well having
// printed "ok" (the scripts print it after their last assertion).
func Python(t testing.TB, script string, args ...string) {
	t.Helper()
	py := Require(t, "python3")
	path := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, append([]string{path}, args...)...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python3: %v\n%s", err, out)
	}
}
