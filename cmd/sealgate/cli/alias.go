package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

func aliasCmd(g *globals) *cobra.Command {
	c := group("alias", "Manage aliases, forwarding and catch-alls")
	add := &cobra.Command{
		Use:   "add ADDRESS TARGET [TARGET...]",
		Short: "Make ADDRESS deliver to the targets (local users, other aliases, addresses elsewhere)",
		Long: "Make ADDRESS deliver to the targets: local accounts, other aliases, or addresses in other\n" +
			"domains (forwarding, with the envelope sender rewritten by SRS). ADDRESS @DOMAIN is the\n" +
			"domain's catch-all. A target equal to ADDRESS means the account of that name (keep a copy\n" +
			"and forward). Loops are refused. Replaces an existing alias of the same address.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("%s: expected ADDRESS and at least one TARGET", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			key, shown, err := aliasKey(args[0], cfg.IsLocalDomain)
			if err != nil {
				return err
			}
			var targets []string
			var parsed []address.Address
			for _, t := range args[1:] {
				ta, err := address.Parse(t)
				if err != nil || ta.IsLiteral() {
					return fmt.Errorf("target %q is not a valid address", t)
				}
				targets = append(targets, ta.String())
				parsed = append(parsed, ta)
			}
			dir := addressing.New(addressing.Options{Store: s, IsLocalDomain: cfg.IsLocalDomain,
				Subaddressing: cfg.Subaddressing(), Postmaster: cfg.Addressing.Postmaster})
			if err := dir.CheckTargets(context.Background(), key, parsed); err != nil {
				return errors.New(strings.TrimPrefix(err.Error(), addressing.ErrUnknown.Error()+": "))
			}
			err = s.SetAlias(context.Background(), key, mailstore.Alias{Address: shown, Targets: targets}, addressing.CheckLoops)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "%s -> %s\n", shown, strings.Join(targets, ", "))
			return nil
		},
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List aliases",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(ctx context.Context, _ *config.Config, s adminStore) error {
				return aliasList(ctx, g, s, asJSON)
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	del := &cobra.Command{
		Use:   "delete ADDRESS",
		Short: "Delete an alias",
		Args:  exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			key, shown, err := aliasKey(args[0], cfg.IsLocalDomain)
			if err != nil {
				return err
			}
			if err := s.DeleteAlias(context.Background(), key); errors.Is(err, mailstore.ErrNotFound) {
				return fmt.Errorf("no alias %s", shown)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "deleted %s\n", shown)
			return nil
		},
	}
	c.AddCommand(add, list, del)
	return c
}

// aliasJSON is one alias in `alias list --json`; a catch-all's address is "@DOMAIN".
type aliasJSON struct {
	Address string   `json:"address"`
	Targets []string `json:"targets"`
}

// aliasList prints every alias, sorted by its key.
func aliasList(ctx context.Context, g *globals, s adminStore, asJSON bool) error {
	all, err := s.Aliases(ctx)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]aliasJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, aliasJSON{Address: all[k].Address, Targets: append([]string{}, all[k].Targets...)})
	}
	if asJSON {
		return g.printJSON(out)
	}
	for _, a := range out {
		fmt.Fprintf(g.env.Stdout, "%s -> %s\n", a.Address, strings.Join(a.Targets, ", "))
	}
	return nil
}

// aliasKey validates an alias address (or "@domain" for a catch-all) in a local domain.
func aliasKey(s string, isLocal func(string) bool) (key, shown string, err error) {
	if strings.HasPrefix(s, "@") {
		d, ok := address.Domain(s[1:])
		if !ok || !isLocal(d) {
			return "", "", fmt.Errorf("%s is not a local domain", s[1:])
		}
		return addressing.CatchAllKey(d), "@" + d, nil
	}
	a, err := address.Parse(s)
	if err != nil || a.IsLiteral() {
		return "", "", fmt.Errorf("%q is not a valid address", s)
	}
	if !isLocal(a.Domain) {
		return "", "", fmt.Errorf("%s is not a local domain", a.Domain)
	}
	return addressing.Key(a), a.String(), nil
}
