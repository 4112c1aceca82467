package config

import (
	"os"
	"strings"
	"testing"
)

// The production examples in docs/TLS.md and at the top of docs/DEPLOY.md (the path from a
// fresh machine) parse and validate.
func TestTLSDocExample(t *testing.T) {
	for _, name := range []string{"TLS.md", "DEPLOY.md"} {
		doc, err := os.ReadFile("../../docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(doc), "```toml\n")
		block, _, ok2 := strings.Cut(rest, "```")
		if !ok || !ok2 {
			t.Fatalf("no toml block in docs/%s", name)
		}
		c, err := Parse([]byte(block))
		if err != nil {
			t.Fatal(err)
		}
		if ps := c.Validate(); len(ps) != 0 {
			t.Fatalf("docs/%s example: %v", name, ps)
		}
		if c.Listen.HTTPS != ":443" || c.TLS.ACMEDirectory == "" {
			t.Fatalf("docs/%s: parsed %+v %+v", name, c.Listen, c.TLS)
		}
	}
}
