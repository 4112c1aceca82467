package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/policy"
)

func policyCmd(g *globals) *cobra.Command {
	c := group("policy", "Set and show per-user key policy")
	var keyHelp strings.Builder
	for _, s := range policy.Specs() {
		fmt.Fprintf(&keyHelp, "  %-18s %s [%s]\n  %-18s %s\n", s.Name, strings.Join(s.Values, "|"), s.Default, "", s.Doc)
	}
	set := &cobra.Command{
		Use:   "set SCOPE KEY=VALUE...",
		Short: "Set policy at a scope (global, a domain, or an address); KEY= removes a setting",
		Long: "Set policy at a scope. An address inherits from its domain, the domain from global.\n" +
			"KEY= (empty value) removes the setting, so the scope inherits again.\n\nKeys:\n" + keyHelp.String(),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("%s: expected SCOPE and at least one KEY=VALUE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			scope, err := policy.ParseScope(args[0])
			if err != nil {
				return err
			}
			kv, err := policy.ParseAssignments(args[1:])
			if err != nil {
				return err
			}
			_, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.SetPolicy(context.Background(), scope.Name, kv); err != nil {
				return err
			}
			keys := make([]string, 0, len(kv))
			for k := range kv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if kv[k] == "" {
					fmt.Fprintf(g.env.Stdout, "%s: %s removed (inherited again)\n", scope, k)
				} else {
					fmt.Fprintf(g.env.Stdout, "%s: %s = %s\n", scope, k, kv[k])
				}
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show SCOPE",
		Short: "Show the effective policy of a scope and where each value comes from",
		Args:  exactArgs(1, "one SCOPE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			scope, err := policy.ParseScope(args[0])
			if err != nil {
				return err
			}
			_, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			stored, err := s.PolicySettings(context.Background())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
			for _, v := range policy.Settings(stored).Effective(scope) {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Key, v.Value, v.Source)
			}
			return tw.Flush()
		},
	}
	c.AddCommand(set, show)
	return c
}
