// Command sealgate is the Sealgate secure mail gateway: `sealgate serve` runs it, the other
// commands administer it. See `sealgate --help`.
package main

import (
	"os"

	"github.com/sealgate/sealgate/cmd/sealgate/cli"
)

func main() {
	os.Exit(cli.Run(cli.Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
}
