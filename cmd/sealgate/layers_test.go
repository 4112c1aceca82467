package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// modulePath is the import path prefix of every Sealgate package.
const modulePath = "github.com/sealgate/sealgate/"

// layer is one level of docs/ARCHITECTURE.md's table. A package may import packages of its own
// layer and of the layers listed before it, never one listed after it.
type layer struct {
	name string
	// pkgs are module-relative paths; "x/..." is x and everything under it. The most specific
	// pattern over all layers places a package.
	pkgs []string
	// apart: the layer's packages do not import each other (protocol servers share nothing
	// but what lies below them).
	apart bool
	// stdOnly: the layer's packages import nothing of the module.
	stdOnly bool
}

// layers, lowest first. A new package must be placed here: the test fails on one it cannot place.
var layers = []layer{
	{name: "crypto leaves", pkgs: []string{"crypto/..."}},
	{name: "policy", pkgs: []string{"policy/..."}, stdOnly: true},
	{name: "keys", pkgs: []string{"keys/..."}},
	{name: "gateway leaves", pkgs: []string{
		"gateway/envelope", "gateway/msgbuf", "gateway/connlimit",
		"gateway/listener", "gateway/dane", "gateway/mtasts", "gateway/config/...",
		"gateway/internal/...", "gateway/mailclient",
	}},
	{name: "storage", pkgs: []string{"gateway/mailstore/...", "gateway/mailindex"}},
	{name: "message path and outbound", pkgs: []string{
		"gateway/auth", "gateway/addressing", "gateway/callout", "gateway/mailauth",
		"gateway/certs", "gateway/usermsg", "gateway/delivery", "gateway/queue",
		"gateway/tlsrpt", "gateway/dnsrecords",
	}},
	{name: "pipeline", pkgs: []string{"gateway/pipeline"}},
	{name: "protocol servers", apart: true, pkgs: []string{
		"gateway/smtpserver/...", "gateway/imapserver/...", "gateway/pop3server/...",
		"gateway/webmail/...", "gateway/httpfront/...",
	}},
	{name: "composition root", pkgs: []string{"gateway", "gateway/webmail/e2e"}},
	{name: "commands", pkgs: []string{"cmd/...", "bench/..."}},
	// Packages that only tests import are named …test (gatewaytest, storetest, peertest…) or
	// live under one. They may use any part; a non-test import of one is upward.
	{name: "test helpers"},
}

// forbidden are edges the layers allow but the architecture does not: storage knows nothing
// of key material, and the mailbox readers do not run the message path.
var forbidden = []struct{ from, to, why string }{
	{"gateway/mailstore/...", "keys/...", "the mail store shares leaves with keys, not keys itself"},
	{"gateway/mailindex", "keys/...", "the mail store shares leaves with keys, not keys itself"},
	{"gateway/pop3server/...", "gateway/pipeline", "a mailbox reader does not run the message path"},
	{"gateway/imapserver/...", "gateway/pipeline", "a mailbox reader does not run the message path"},
}

// TestNoUpwardImports holds the direction of dependencies that docs/ARCHITECTURE.md states:
// every import of a non-test Sealgate package points to its own layer or one below.
func TestNoUpwardImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	pkgs, err := listModule()
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		from, ok := place(p.ImportPath)
		if !ok {
			t.Errorf("%s is in no layer: place it in layers (cmd/sealgate/layers_test.go) and docs/ARCHITECTURE.md", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if err := checkEdge(p.ImportPath, from, imp); err != nil {
				t.Error(err)
			}
		}
	}
}

// edgeRows are edges TestCheckEdge asks about, one a line: "from to" is allowed, "from !to"
// refused.
const edgeRows = `
gateway/gatewaytest gateway
gateway/mailstore/storetest gateway/msgbuf
gateway !gateway/gatewaytest
keys !gateway/mailstore
keys crypto/address
gateway/mailstore !keys/changecount
gateway/mailstore crypto/changecount
gateway/addressing !gateway/pipeline
gateway/pop3server !gateway/pipeline
gateway/pop3server gateway/envelope
gateway/webmail !gateway/imapserver
gateway/webmail gateway/mailindex
policy !crypto/address
crypto/pgpmime !keys
gateway/smtpserver gateway/pipeline
gateway/pipeline policy
gateway !cmd/sealgate/cli
`

// TestCheckEdge shows that the rules catch the edges they are written against.
func TestCheckEdge(t *testing.T) {
	for _, row := range strings.Split(strings.TrimSpace(edgeRows), "\n") {
		fromPkg, to, _ := strings.Cut(row, " ")
		to, refused := strings.CutPrefix(to, "!")
		from, ok := place(fromPkg)
		if !ok {
			t.Fatalf("%s: no layer", fromPkg)
		}
		if err := checkEdge(fromPkg, from, modulePath+to); (err == nil) == refused {
			t.Errorf("%s → %s: refused %v, want %v (%v)", fromPkg, to, err != nil, refused, err)
		}
	}
}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

// listModule lists every package of the module with its non-test imports.
func listModule() ([]listedPackage, error) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports", modulePath+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// checkEdge reports why from (in layer index fromLayer) may not import imp, or nil.
func checkEdge(from string, fromLayer int, imp string) error {
	rel, ok := strings.CutPrefix(imp, modulePath)
	if !ok {
		return nil // the standard library or a third-party module
	}
	from = strings.TrimPrefix(from, modulePath)
	if layers[fromLayer].stdOnly {
		return fmt.Errorf("%s imports %s: %s imports only the standard library", from, rel, layers[fromLayer].name)
	}
	to, ok := place(rel)
	if !ok {
		return fmt.Errorf("%s imports %s, which is in no layer", from, rel)
	}
	switch {
	case to > fromLayer:
		return fmt.Errorf("%s (%s) imports %s (%s): an upward import", from, layers[fromLayer].name, rel, layers[to].name)
	case to == fromLayer && layers[to].apart && !within(rel, from):
		return fmt.Errorf("%s imports %s: %s do not import each other", from, rel, layers[to].name)
	}
	for _, f := range forbidden {
		if matches(f.from, from) && matches(f.to, rel) {
			return fmt.Errorf("%s imports %s: %s", from, rel, f.why)
		}
	}
	return nil
}

// place returns the index of the layer whose most specific pattern matches the package.
func place(pkg string) (int, bool) {
	pkg = strings.TrimPrefix(pkg, modulePath)
	for _, elem := range strings.Split(pkg, "/") {
		if strings.HasSuffix(elem, "test") {
			return len(layers) - 1, true
		}
	}
	best, bestLen := -1, -1
	for i, l := range layers {
		for _, pat := range l.pkgs {
			if matches(pat, pkg) && len(pat) > bestLen {
				best, bestLen = i, len(pat)
			}
		}
	}
	return best, best >= 0
}

// matches reports whether pkg is pat, or under it when pat ends in "/...".
func matches(pat, pkg string) bool {
	if base, ok := strings.CutSuffix(pat, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pat
}

// within reports whether a and b are one package or one is under the other (a package and
// its own helpers).
func within(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}
