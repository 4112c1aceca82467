package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/keys"
)

// The shape every administrative command shares: open what it works on as the server does
// (see admin), run, close; print either the text form or, with --json, one JSON value.
// Commands go through these helpers so that they open, validate and print alike.

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
	text       func(w io.Writer, rows []T) error // the text form; or, when nil:
	line       func(row T) string                // the text form is one line a row
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
			if l.text != nil {
				return l.text(g.env.Stdout, rows)
			}
			for _, r := range rows {
				fmt.Fprintln(g.env.Stdout, l.line(r))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return c
}

// rowsOf is the listing rows row makes of src, which a read returned with err.
func rowsOf[S, T any](src []S, err error, row func(S) T) ([]T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(src))
	for _, s := range src {
		out = append(out, row(s))
	}
	return out, nil
}

// storeRows reads the rows of a listing from the mail store (see globals.withStore).
func storeRows[T any](g *globals, f func(a *admin, s adminStore, args []string) ([]T, error)) func([]string) ([]T, error) {
	return func(args []string) (rows []T, err error) {
		err = g.withStore(func(a *admin, s adminStore) error {
			rows, err = f(a, s, args)
			return err
		})
		return rows, err
	}
}

// keyringRows reads the rows of a listing from the keyring (see globals.withKeyring).
func keyringRows[T any](g *globals, f func(a *admin, kr *keys.Keyring, args []string) ([]T, error)) func([]string) ([]T, error) {
	return func(args []string) (rows []T, err error) {
		err = g.withKeyring(func(a *admin, kr *keys.Keyring) error {
			rows, err = f(a, kr, args)
			return err
		})
		return rows, err
	}
}
