package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/queue"
)

// queueCmd manages the outbound queue. The commands change the shared store; a running
// server's runner reads the due index every second, so flush and retry take effect there
// within about a second.
func queueCmd(g *globals) *cobra.Command {
	c := group("queue", "Inspect and manage the outbound queue")
	var bounce bool
	list := listCmd(g, listing[queueJSON]{use: "list [--json]",
		short: "List queued messages: ID, sender, recipients with state, attempts, next try, last error",
		rows: storeRows(g, func(a *admin, s adminStore, _ []string) ([]queueJSON, error) {
			entries, err := s.QueueEntries(a.ctx)
			return rowsOf(entries, err, queueEntryJSON)
		}),
		line: queueLine})

	flush := &cobra.Command{
		Use:   "flush",
		Short: "Make every queued message that is not held due now",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(a *admin, s adminStore) error {
				n, err := s.QueueFlush(a.ctx, time.Now())
				if err == nil {
					fmt.Fprintf(g.env.Stdout, "%d messages made due now\n", n)
				}
				return err
			})
		},
	}
	retry := idCmd(g, "retry ID", "Try a queued message again now", func(a *admin, s adminStore, id int64) (string, error) {
		err := s.QueueRetry(a.ctx, id, time.Now())
		if errors.Is(err, mailstore.ErrQueueHeld) {
			return "", fmt.Errorf("queue entry %d is held; release it first", id)
		}
		return "due now", err
	})
	hold := idCmd(g, "hold ID", "Keep a queued message from being delivered or bounced", func(a *admin, s adminStore, id int64) (string, error) {
		return "held", s.QueueSetHeld(a.ctx, id, true)
	})
	release := idCmd(g, "release ID", "Let a held message be delivered again", func(a *admin, s adminStore, id int64) (string, error) {
		return "released", s.QueueSetHeld(a.ctx, id, false)
	})
	del := idCmd(g, "delete ID [--bounce]", "Remove a queued message, silently or with a bounce to its sender", func(a *admin, s adminStore, id int64) (string, error) {
		if !bounce {
			return "deleted", s.QueueDelete(a.ctx, id)
		}
		return "deleted; its sender is notified", deleteWithBounce(a, s, id)
	})
	del.Flags().BoolVar(&bounce, "bounce", false, "send the sender a delivery status notification for the recipients not yet delivered")
	c.AddCommand(list, flush, retry, hold, release, del)
	return c
}

func idCmd(g *globals, use, short string, f func(a *admin, s adminStore, id int64) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, "one queue ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not a queue ID", args[0])
			}
			return g.withStore(func(a *admin, s adminStore) error {
				what, err := f(a, s, id)
				if err != nil {
					return notFound(err, fmt.Sprintf("queue entry %d", id))
				}
				fmt.Fprintf(g.env.Stdout, "%d %s\n", id, what)
				return nil
			})
		},
	}
}

func deleteWithBounce(a *admin, s adminStore, id int64) error {
	ctx, cfg := a.ctx, a.cfg
	e, err := s.QueueEntry(ctx, id)
	if err != nil {
		return err
	}
	var out []mailstore.QueueRecipient
	for _, r := range e.Recipients {
		if r.State == mailstore.RcptPending {
			out = append(out, mailstore.QueueRecipient{Address: r.Address, State: mailstore.RcptBouncing,
				LastError: "5.0.0 -: deleted from the queue by the postmaster"})
		}
	}
	if err := s.QueueRecord(ctx, id, out); err != nil {
		return err
	}
	b := &queue.Bouncer{Store: s, Hostname: cfg.Hostname, IsLocalDomain: cfg.IsLocalDomain, Subaddressing: cfg.Subaddressing()}
	done, err := b.Settle(ctx, id, mailstore.Settle{})
	if err == nil && !done {
		err = s.QueueDelete(ctx, id)
	}
	return err
}

// queueLine is the text form of a queue entry: one line.
func queueLine(e queueJSON) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d <%s>", e.ID, e.Sender)
	for _, r := range e.Recipients {
		fmt.Fprintf(&b, " %s:%s", r.Address, r.State)
	}
	fmt.Fprintf(&b, " attempts=%d next=%s", e.Attempts, e.NextAttempt.Format(time.RFC3339))
	if e.Held {
		b.WriteString(" held")
	}
	if e.LastError != "" {
		fmt.Fprintf(&b, " error=%q", e.LastError)
	}
	return b.String()
}

type queueJSON struct {
	ID          int64           `json:"id"`
	Sender      string          `json:"sender"`
	Created     time.Time       `json:"created"`
	NextAttempt time.Time       `json:"next_attempt"`
	Attempts    int             `json:"attempts"`
	Held        bool            `json:"held"`
	LastError   string          `json:"last_error"`
	Recipients  []queueRcptJSON `json:"recipients"`
}

type queueRcptJSON struct {
	Address   string `json:"address"`
	State     string `json:"state"`
	LastError string `json:"last_error"`
}

func queueEntryJSON(e mailstore.QueueEntry) queueJSON {
	j := queueJSON{ID: e.ID, Sender: e.Sender, Created: e.Created.UTC(), NextAttempt: e.NextAttempt.UTC(),
		Attempts: e.Attempts, Held: e.Held, LastError: e.LastError, Recipients: []queueRcptJSON{}}
	for _, r := range e.Recipients {
		j.Recipients = append(j.Recipients, queueRcptJSON{Address: r.Address, State: r.State, LastError: r.LastError})
	}
	return j
}
