package config

import (
	"os"
	"strings"
	"testing"
)

// The production example in docs/TLS.md parses and validates.
func TestTLSDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/TLS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```toml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no toml block in docs/TLS.md")
	}
	c, err := Parse([]byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("docs/TLS.md example: %v", ps)
	}
	if c.Listen.HTTPS != ":443" || c.TLS.ACMEDirectory == "" {
		t.Fatalf("parsed %+v %+v", c.Listen, c.TLS)
	}
}
