//go:build ignore

// gen_example writes example.toml from the field doc comments in config.go and
// the values of config.Default. Run it with go generate in this directory.
package main

import (
	"log"
	"os"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/config/internal/tomldoc"
)

func main() {
	src, err := os.ReadFile("config.go")
	if err != nil {
		log.Fatal(err)
	}
	out, err := tomldoc.Render(src, config.Default())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("example.toml", out, 0o644); err != nil {
		log.Fatal(err)
	}
}
