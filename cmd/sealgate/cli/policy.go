package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/pipeline"
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
			err = g.withStore(func(a *admin, s adminStore) error {
				return s.SetPolicy(a.ctx, scope.Name, kv)
			})
			if err != nil {
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
	show := listCmd(g, listing[policyJSON]{use: "show SCOPE [--json]", short: "Show the effective policy of a scope and where each value comes from",
		args: exactArgs(1, "one SCOPE"),
		rows: func(args []string) ([]policyJSON, error) {
			scope, err := policy.ParseScope(args[0])
			if err != nil {
				return nil, err
			}
			return storeRows(g, func(a *admin, s adminStore, _ []string) ([]policyJSON, error) {
				stored, err := s.PolicySettings(a.ctx)
				if err != nil {
					return nil, err
				}
				var out []policyJSON
				for _, v := range policy.Settings(stored).Effective(scope) {
					out = append(out, policyJSON{Key: v.Key, Value: v.Value, Source: v.Source})
				}
				return out, nil
			})(args)
		},
		text: func(w io.Writer, out []policyJSON) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
			for _, v := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Key, v.Value, v.Source)
			}
			return tw.Flush()
		}})
	c.AddCommand(set, show, explainCmd(g))
	return c
}

// policyJSON is one key of `policy show --json`: its effective value and the scope it comes
// from ("default", "global", the domain or the address).
type policyJSON struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

func explainCmd(g *globals) *cobra.Command {
	var from string
	var to []string
	var encrypted, signed string
	c := &cobra.Command{
		Use:   "explain --from ADDRESS --to ADDRESS [--to ADDRESS...]",
		Short: "Say what the policy would do with a message, per recipient, and why",
		Long: "Say what the policy would do with a message from --from to each --to, with the keys the\n" +
			"gateway holds now. A sender in a local or relay domain is taken as an authenticated user (submission);\n" +
			"--encrypted and --signed describe how the message arrives (default: plain).",
		Args: exactArgs(0, "flags only"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || len(to) == 0 {
				return errors.New("policy explain: give --from and at least one --to")
			}
			arrival := policy.Arrival{Encrypted: policy.Scheme(encrypted), Signed: policy.Scheme(signed)}
			for _, v := range []policy.Scheme{arrival.Encrypted, arrival.Signed} {
				if v != policy.None && v != policy.PGP && v != policy.SMIME {
					return fmt.Errorf("policy explain: %q is not pgp or smime", v)
				}
			}
			fromAddr, err := address.Parse(from)
			if err != nil {
				return fmt.Errorf("%q is not an address", from)
			}
			return g.withStore(func(a *admin, s adminStore) error {
				kr, err := a.Keyring()
				if err != nil {
					return err
				}
				cfg := a.cfg
				p := pipeline.New(pipeline.Options{Hostname: cfg.Hostname, Policy: s, Keys: kr, Subaddressing: cfg.Subaddressing()})
				submitted := cfg.IsOurDomain(fromAddr.Domain)
				ds, err := p.Explain(a.ctx, fromAddr.String(), submitted, arrival, to, cfg.IsOurDomain)
				if err != nil {
					return err
				}
				how := "from the Internet (MX)"
				switch {
				case cfg.IsRelayDomain(fromAddr.Domain):
					how = "sent by the organisation's own mail server (a trusted network)"
				case submitted:
					how = "submitted by the authenticated user"
				}
				fmt.Fprintf(g.env.Stdout, "Message from %s, %s, arriving %s:\n", fromAddr, how, arrivalWords(arrival))
				for i, d := range ds {
					where := "remote"
					if ra, _ := address.Parse(to[i]); cfg.IsLocalDomain(ra.Domain) {
						where = "local"
					} else if cfg.IsRelayDomain(ra.Domain) {
						where = "relay domain"
					}
					fmt.Fprintf(g.env.Stdout, "\nto %s (%s): %s", to[i], where, policy.Explain(d))
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&from, "from", "", "envelope sender")
	c.Flags().StringArrayVar(&to, "to", nil, "recipient (repeatable)")
	c.Flags().StringVar(&encrypted, "encrypted", "", "the message arrives encrypted: pgp or smime")
	c.Flags().StringVar(&signed, "signed", "", "the message arrives signed: pgp or smime")
	return c
}

func arrivalWords(a policy.Arrival) string {
	switch {
	case a.Encrypted != policy.None && a.Signed != policy.None:
		return string(a.Signed) + "-signed and " + string(a.Encrypted) + "-encrypted"
	case a.Encrypted != policy.None:
		return string(a.Encrypted) + "-encrypted"
	case a.Signed != policy.None:
		return string(a.Signed) + "-signed"
	}
	return "plain"
}
