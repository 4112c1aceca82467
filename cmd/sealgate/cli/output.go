package cli

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/keys"
)

// The shape every administrative command shares: open what it works on as the server does
// ([storage] and the data directory), run, close; print either the text form or, with --json,
// one JSON value. Commands go through these helpers so that they open, validate and print
// alike.

// withStore runs f with the configuration and the mail store [storage] names, and closes the
// store after it.
func (g *globals) withStore(f func(ctx context.Context, cfg *config.Config, s adminStore) error) error {
	cfg, s, err := g.openStore()
	if err != nil {
		return err
	}
	defer s.Close()
	return f(context.Background(), cfg, s)
}

// withKeyring runs f with the keyring [storage] names, opened with the master key, and
// closes it after.
func (g *globals) withKeyring(f func(ctx context.Context, kr *keys.Keyring) error) error {
	kr, err := g.openKeyring()
	if err != nil {
		return err
	}
	defer kr.Close()
	return f(context.Background(), kr)
}

// printJSON writes v as the --json output of a command: indented, one value, a newline
// after it. Lists are arrays, an empty one "[]"; names are lower_snake_case; times are RFC
// 3339 in UTC; a value that does not apply is null. README.md ("JSON output") lists the
// fields of each command.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonTime is how --json prints a time.
func jsonTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// listing is a command that prints a list: with --json one JSON array of its rows (see
// printJSON; never null), else the text form.
type listing[T any] struct {
	use, short string
	args       cobra.PositionalArgs // nil: no arguments
	rows       func(args []string) ([]T, error)
	text       func(w io.Writer, rows []T) error
}

// listCmd makes the command of l, with its --json flag.
func listCmd[T any](g *globals, l listing[T]) *cobra.Command {
	var asJSON bool
	args := l.args
	if args == nil {
		args = exactArgs(0, "no arguments")
	}
	c := &cobra.Command{
		Use:   l.use,
		Short: l.short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			rows, err := l.rows(args)
			if err != nil {
				return err
			}
			if asJSON {
				if rows == nil {
					rows = []T{}
				}
				return g.printJSON(rows)
			}
			return l.text(g.env.Stdout, rows)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return c
}

// storeRows reads the rows of a listing from the mail store (see withStore).
func storeRows[T any](g *globals, f func(ctx context.Context, s adminStore, args []string) ([]T, error)) func([]string) ([]T, error) {
	return func(args []string) (rows []T, err error) {
		err = g.withStore(func(ctx context.Context, _ *config.Config, s adminStore) error {
			rows, err = f(ctx, s, args)
			return err
		})
		return rows, err
	}
}

// keyringRows reads the rows of a listing from the keyring (see withKeyring).
func keyringRows[T any](g *globals, f func(ctx context.Context, kr *keys.Keyring, args []string) ([]T, error)) func([]string) ([]T, error) {
	return func(args []string) (rows []T, err error) {
		err = g.withKeyring(func(ctx context.Context, kr *keys.Keyring) error {
			rows, err = f(ctx, kr, args)
			return err
		})
		return rows, err
	}
}
