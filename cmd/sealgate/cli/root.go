// Package cli is the sealgate command line: serve, user, config (and, as they are built, keys,
// policy, queue, mail). Every command reads --config FILE, else DIR/sealgate.toml, else the
// built-in defaults, and opens the same data directory as the server, so it works whether or
// not `sealgate serve` is running and its changes reach a running server at once (the store
// is a SQLite database in WAL mode that several processes share).
//
// Contract: exit status 0 on success; otherwise exactly one line "sealgate: REASON" on standard
// error and a non-zero status, with no usage text after it.
package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/config"
)

// Env is the process environment a command runs in; tests pass their own.
type Env struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// globals are the flags every command takes.
type globals struct {
	env        Env
	dataDir    string
	configFile string
}

// Run executes one sealgate command and returns its exit status.
func Run(env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	g := &globals{env: env}
	root := &cobra.Command{
		Use:           "sealgate",
		Short:         "Sealgate secure mail gateway and mail server",
		Long:          "Sealgate receives, encrypts, decrypts, signs, stores and delivers mail, and serves it over IMAP, POP3 and web mail.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defData := env.Getenv("SEALGATE_DATA")
	if defData == "" {
		defData = "./sealgate-data"
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data", defData, "data directory ($SEALGATE_DATA sets the default)")
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "configuration file (default DIR/sealgate.toml when it exists)")
	root.Version = buildVersion()
	root.SetVersionTemplate("{{.Version}}\n") // the line of `sealgate version`
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.AddCommand(serveCmd(g), userCmd(g), configCmd(g), policyCmd(g), queueCmd(g), dkimCmd(g), keysCmd(g), aliasCmd(g), checkCmd(g), mailCmd(g), dbCmd(g), versionCmd(g), dnsCmd(g), backupCmd(g), restoreCmd(g))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return err })
	if err := root.Execute(); err != nil {
		msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
		fmt.Fprintf(env.Stderr, "sealgate: %s\n", msg)
		return 1
	}
	return 0
}

// loadConfig applies the precedence: --config FILE, else DIR/sealgate.toml, else defaults.
func (g *globals) loadConfig() (*config.Config, error) {
	if g.configFile != "" {
		return config.Load(g.configFile)
	}
	c, err := config.Load(filepath.Join(g.dataDir, "sealgate.toml"))
	if errors.Is(err, fs.ErrNotExist) {
		return config.Default(), nil
	}
	return c, err
}

// masterKeyFile is SEALGATE_MASTER_KEY_FILE when set; "" leaves the choice to the config.
func (g *globals) masterKeyFile() string { return g.env.Getenv("SEALGATE_MASTER_KEY_FILE") }

// masterKeyPath is the master key file in use: SEALGATE_MASTER_KEY_FILE, else the one cfg
// names (by default in the data directory).
func (g *globals) masterKeyPath(cfg *config.Config) string {
	if p := g.masterKeyFile(); p != "" {
		return p
	}
	return cfg.Keys.MasterKeyPath(g.dataDir)
}

// readPassword reads a password from standard input: the first line, without its line end.
func (g *globals) readPassword() (string, error) {
	data, err := io.ReadAll(io.LimitReader(g.env.Stdin, 4096))
	if err != nil {
		return "", err
	}
	pw, _, _ := strings.Cut(string(data), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

// group makes a command that only holds subcommands: an unknown subcommand is an error, no
// subcommand prints help.
func group(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: expected %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
