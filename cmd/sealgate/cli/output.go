package cli

import (
	"context"
	"encoding/json"
	"time"

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
