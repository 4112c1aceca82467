package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/gateway/config/internal/tomldoc"
)

// TestExampleGolden fails when example.toml no longer matches the field
// comments in config.go or the values of Default. Fix: go generate ./gateway/config/
func TestExampleGolden(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := tomldoc.Render(src, Default())
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != Example() {
		t.Errorf("example.toml is stale; run go generate ./gateway/config/\n--- generated:\n%s", want)
	}
}

func TestExampleIsDefault(t *testing.T) {
	c, err := Parse([]byte(Example()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse(Example()) = %+v, want Default() = %+v", c, Default())
	}
}

func TestRenderNeedsDocs(t *testing.T) {
	src := []byte(`package x
// T is documented.
type T struct {
	// A is documented.
	A string ` + "`toml:\"a\"`" + `
	B string ` + "`toml:\"b\"`" + `
}`)
	type T struct {
		A string `toml:"a"`
		B string `toml:"b"`
	}
	if _, err := tomldoc.Render(src, &T{}); err == nil {
		t.Error("Render accepted a field without a doc comment")
	}
}

func ExampleParse() {
	_, err := Parse([]byte(`
hostname = "mx.example.test"
[listen]
smpt = "127.0.0.1:25"
[queue]
lifetime = "-1h"
`))
	fmt.Println(err)
	// Output: queue.lifetime: "-1h" is not a duration: negative durations are not allowed; unknown key "listen.smpt" (did you mean "listen.smtp"?)
}

// TestExampleTableEntriesLoad puts each "Example:" entry the example gives for a table
// (outbound.routes, outbound.route_tls) into that table and loads the result: what the
// example shows must be accepted.
func TestExampleTableEntriesLoad(t *testing.T) {
	var pending []string
	n := 0
	for _, line := range strings.Split(Example(), "\n") {
		if _, ex, ok := strings.Cut(line, "Example: "); ok && strings.HasPrefix(line, "#") {
			pending = append(pending, ex)
			continue
		}
		if !strings.HasPrefix(line, "[") {
			if !strings.HasPrefix(line, "#") {
				pending = nil
			}
			continue
		}
		for _, ex := range pending {
			n++
			text := line + "\n" + ex + "\n"
			c, err := Parse([]byte(text))
			if err != nil {
				t.Errorf("the example %q under %s is refused: %v", ex, line, err)
				continue
			}
			if ps := c.Validate(); strings.Contains(fmt.Sprint(ps), "outbound.") {
				t.Errorf("the example %q under %s does not validate: %v", ex, line, ps)
			}
		}
		pending = nil
	}
	if n < 2 {
		t.Fatalf("found %d table examples; want outbound.routes and outbound.route_tls", n)
	}
	c, err := Parse([]byte("[outbound.route_tls]\n\"partner.test\" = \"verify\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbound.RouteTLS["partner.test"] != "verify" {
		t.Fatalf("route_tls: %v", c.Outbound.RouteTLS)
	}
}
