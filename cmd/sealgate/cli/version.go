package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion describes the running binary from the build information the Go toolchain
// embeds: the module version ("(devel)" for a build from a source tree), the VCS revision
// and commit time when the build recorded them (and "+modified" for a tree with uncommitted
// changes), and the Go version.
func buildVersion() string {
	version, vcs := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		if version == "" {
			version = "(devel)"
		}
		var rev, at, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = "+modified"
				}
			}
		}
		if rev != "" {
			vcs = " " + rev + modified
			if at != "" {
				vcs += " " + at
			}
		}
	}
	return fmt.Sprintf("sealgate %s%s %s %s/%s", version, vcs, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the source revision and the Go version of this binary",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(g.env.Stdout, buildVersion())
			return nil
		},
	}
}
