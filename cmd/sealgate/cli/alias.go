package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/addressing"
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
			return g.withAlias(args[0], func(a *admin, s adminStore, key, shown string) error {
				return aliasAdd(a, s, key, shown, args[1:])
			})
		},
	}
	list := listCmd(g, listing[aliasJSON]{use: "list [--json]", short: "List aliases",
		rows: storeRows(g, aliasList),
		line: func(a aliasJSON) string { return a.Address + " -> " + strings.Join(a.Targets, ", ") }})
	del := &cobra.Command{
		Use:   "delete ADDRESS",
		Short: "Delete an alias",
		Args:  exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withAlias(args[0], func(a *admin, s adminStore, key, shown string) error {
				if err := s.DeleteAlias(a.ctx, key); err != nil {
					return notFound(err, "alias "+shown)
				}
				fmt.Fprintf(g.env.Stdout, "deleted %s\n", shown)
				return nil
			})
		},
	}
	c.AddCommand(add, list, del)
	return c
}

// withAlias runs f with the mail store and the key and shown form of the alias address arg
// (see admin.aliasKey).
func (g *globals) withAlias(arg string, f func(a *admin, s adminStore, key, shown string) error) error {
	return g.withStore(func(a *admin, s adminStore) error {
		key, shown, err := a.aliasKey(arg)
		if err != nil {
			return err
		}
		return f(a, s, key, shown)
	})
}

// aliasAdd makes the alias key (shown as shown) deliver to the targets args, after checking
// that each takes mail and that no loop results.
func aliasAdd(a *admin, s adminStore, key, shown string, args []string) error {
	var targets []string
	var parsed []address.Address
	for _, t := range args {
		ta, err := address.Parse(t)
		if err != nil || ta.IsLiteral() {
			return fmt.Errorf("target %q is not a valid address", t)
		}
		targets = append(targets, ta.String())
		parsed = append(parsed, ta)
	}
	cfg := a.cfg
	dir := addressing.New(addressing.Options{Store: s, IsLocalDomain: cfg.IsLocalDomain,
		Subaddressing: cfg.Subaddressing(), Postmaster: cfg.Addressing.Postmaster})
	if err := dir.CheckTargets(a.ctx, key, parsed); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), addressing.ErrUnknown.Error()+": "))
	}
	if err := s.SetAlias(a.ctx, key, mailstore.Alias{Address: shown, Targets: targets}, addressing.CheckLoops); err != nil {
		return err
	}
	fmt.Fprintf(a.g.env.Stdout, "%s -> %s\n", shown, strings.Join(targets, ", "))
	return nil
}

// aliasJSON is one alias in `alias list --json`; a catch-all's address is "@DOMAIN".
type aliasJSON struct {
	Address string   `json:"address"`
	Targets []string `json:"targets"`
}

// aliasList is every alias, sorted by its key.
func aliasList(a *admin, s adminStore, _ []string) ([]aliasJSON, error) {
	all, err := s.Aliases(a.ctx)
	if err != nil {
		return nil, err
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
	return out, nil
}
