package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/keys"
)

// serveGCPercent is the Go collector's target while serving, unless GOGC is set. The
// gateway's live heap is small (tens of MiB) and most of its garbage is per-message buffers,
// so collecting when the heap reaches three times the live data instead of twice takes a
// tenth or so off the CPU per message. At 400 the saving was larger, but a 50 MiB message
// then grew the process by up to 53 MiB against the design's 64 (docs/PERFORMANCE.md).
const serveGCPercent = 200

func serveCmd(g *globals) *cobra.Command {
	var demo bool
	var logFormat, logLevel string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: "Run every configured listener until SIGTERM or SIGINT. With --demo, also allow plaintext\n" +
			"login from loopback and create the users alice@localhost and bob@localhost with new passwords.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// SIGHUP reloads (see reloadOnHUP); caught from here on so that it never kills.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			load := func() (*config.Config, error) {
				cfg, err := g.loadConfig()
				if err != nil {
					return nil, err
				}
				if logFormat != "" {
					cfg.Log.Format = logFormat
				}
				if logLevel != "" {
					cfg.Log.Level = logLevel
				}
				if demo {
					cfg.Auth.PlaintextOnLoopback = true
				}
				if ps := cfg.Validate(); len(ps) > 0 {
					return nil, &config.Problems{List: ps}
				}
				return cfg, nil
			}
			cfg, err := load()
			if err != nil {
				return err
			}
			logger := newLogger(g.env.Stderr, cfg.Log)
			if g.env.Getenv("GOGC") == "" {
				debug.SetGCPercent(serveGCPercent)
			}
			gw, err := gateway.New(gateway.Options{Config: cfg, DataDir: g.dataDir, MasterKeyFile: g.masterKeyFile(), Logger: logger})
			if err != nil {
				return err
			}
			var demoUsers map[string]string
			if demo {
				if demoUsers, err = makeDemoUsers(gw, cfg); err != nil {
					gw.Shutdown(context.Background())
					return err
				}
			}
			if err := gw.Start(); err != nil {
				gw.Shutdown(context.Background())
				return err
			}
			if demo {
				printDemo(g.env.Stdout, gw, demoUsers)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			var runErr error
		wait:
			for {
				select {
				case <-ctx.Done():
					logger.Info("shutting down")
					break wait
				case runErr = <-gw.Errors():
					logger.Error("server failed", "err", runErr)
					break wait
				case <-hup:
					reloadOnHUP(ctx, gw, logger, load)
				}
			}
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return errors.Join(runErr, gw.Shutdown(sctx))
		},
	}
	c.Flags().BoolVar(&demo, "demo", false, "create demo users and allow plaintext login from loopback")
	c.Flags().StringVar(&logFormat, "log-format", "", `log format: "text" or "json" (default from config)`)
	c.Flags().StringVar(&logLevel, "log-level", "", `least severe level logged: debug, info, warn, error`)
	return c
}

// reloadOnHUP reads the configuration again and applies it (gateway.Reload logs what changed
// and what needs a restart). A configuration that does not load or validate changes nothing.
func reloadOnHUP(ctx context.Context, gw *gateway.Gateway, logger *slog.Logger, load func() (*config.Config, error)) {
	logger.Info("SIGHUP: reloading the configuration and certificates")
	cfg, err := load()
	if err != nil {
		logger.Error("configuration not reloaded; the running one stays", "err", err)
		return
	}
	gw.Reload(ctx, cfg)
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// makeDemoUsers creates (or resets the password of) alice and bob in the first local domain,
// gives each an OpenPGP key, and sets a policy that shows the encryption working: mail to bob
// is encrypted at rest, mail that arrives encrypted to alice is decrypted for her.
func makeDemoUsers(gw *gateway.Gateway, cfg *config.Config) (map[string]string, error) {
	s := gw.Store()
	out := map[string]string{}
	ctx := context.Background()
	for _, name := range []string{"alice", "bob"} {
		a := address.Address{Local: name, Domain: cfg.Domains[0]}
		var raw [12]byte
		rand.Read(raw[:])
		pw := base64.RawURLEncoding.EncodeToString(raw[:])
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return nil, err
		}
		_, err = s.AddUser(ctx, a, hash)
		if errors.Is(err, mailstore.ErrExists) {
			err = s.SetPasswordHash(ctx, a, hash)
		}
		if err != nil {
			return nil, err
		}
		out[a.String()] = pw
		if ks, err := gw.Keyring().EncryptionKeysPGP(ctx, a.String()); err == nil && len(ks) == 0 {
			if _, err := gw.Keyring().Admin("demo").GeneratePGP(ctx, a.String(), keys.PGPOptions{}); err != nil {
				return nil, err
			}
		}
	}
	bob := "bob@" + cfg.Domains[0]
	if err := s.SetPolicy(ctx, bob, map[string]string{"inbound.encrypt": "pgp"}); err != nil {
		return nil, err
	}
	return out, nil
}

func printDemo(w io.Writer, gw *gateway.Gateway, users map[string]string) {
	alice, bob := "", ""
	for a := range users {
		if a[:5] == "alice" {
			alice = a
		} else {
			bob = a
		}
	}
	smtpAddr := gw.Addr("smtp")
	fmt.Fprintf(w, `Sealgate demo is running.

Users (passwords are new on every --demo start), each with an OpenPGP key:
  %-24s %s
  %-24s %s

Policy: mail to %s is encrypted at rest (inbound.encrypt=pgp); mail that arrives
encrypted to %s is decrypted for her (inbound.decrypt=true, the default).
  sealgate policy explain --from someone@example.org --to %s --to %s

1. Plain mail to bob is stored PGP/MIME-encrypted:
  swaks --server %s --from someone@example.org --to %s --body "for bob's eyes only"
  Read it over IMAP (%s, user %s): the body is PGP/MIME; the header
  Sealgate-Security says stored=pgp. Take his key to your mail client with:
  sealgate keys export %s --pgp --secret > bob-secret.asc

2. Mail encrypted to alice arrives decrypted:
  sealgate keys export %s --pgp > alice.asc
  export GNUPGHOME=$(mktemp -d); gpg --import alice.asc
  echo 'hello alice' | gpg --trust-model always -a -e -r %s |
    swaks --server %s --from someone@example.org --to %s --body -
  Her copy is plain text again and carries Sealgate-Security: received=pgp; decrypted=yes.

(From the source tree, "sealgate" is "go run ./cmd/sealgate".)

Send as bob over submission (STARTTLS with the self-signed certificate, then AUTH):
  swaks --server %s --tls --tls-verify=no --auth PLAIN --auth-user %s --auth-password '%s' \
        --from %s --to %s --header "From: %s"

Health and metrics: http://%s/healthz  http://%s/metrics
Stop with Ctrl-C.
`, alice, users[alice], bob, users[bob],
		bob, alice, alice, bob,
		smtpAddr, bob, gw.Addr("imap"), bob, bob,
		alice, alice, smtpAddr, alice,
		gw.Addr("submission"), bob, users[bob], bob, alice, bob,
		gw.Addr("http"), gw.Addr("http"))
}
