// Package queue runs the outbound spool: it picks entries that are due, delivers each to the
// recipients' domains through gateway/delivery, records every recipient's outcome, schedules
// retries and writes bounces (RFC 3464 delivery status notifications).
//
// # Schedule
//
// An entry is due when its next attempt time has come and it is not held. Its pending
// recipients are grouped by domain and each domain is delivered in its own session, within a
// limit of concurrent sessions in total and per domain. Temporary failures (4xx, connection
// errors, timeouts) leave a recipient pending; the entry's next attempt is then MinBackoff ×
// 2^(attempts−1), at most MaxBackoff, and never later than the end of its Lifetime. An
// attempt that still fails temporarily once the lifetime is over bounces. A permanent failure
// (5xx at any step from the greeting on, an unknown domain or a null MX, a peer that cannot
// take the message's 8-bit or UTF-8 content or its size) bounces at once, for those
// recipients only, whether it came for one recipient or for the whole message. Every outcome
// is logged, and a temporary one is kept as the recipient's last error (`queue list`) until
// the next attempt. A held entry is neither attempted nor bounced.
//
// The runner looks at the due index every PollInterval (so `queue flush` and `queue retry`
// from another process take effect within that) and at once when Wake is called (new mail).
//
// # Exactly once, across crashes
//
// A recipient's outcome is committed (fsynced) as soon as it is known: a rejection right after
// the RCPT replies, a delivery right after the reply to DATA. A delivered or failed recipient
// is never sent again. What remains is the window RFC 5321 §6.1 and RFC 1047 describe: between
// the peer's 250 to DATA and our commit (one group commit, milliseconds) a crash leaves the
// recipient pending, and it is delivered again after the restart. The same holds when the
// connection breaks after the final dot but before the reply. Duplicates in that window are
// preferred to losing mail; nothing else can duplicate a delivery.
//
// A permanently failed recipient first becomes "bouncing"; its DSN is stored and it becomes
// "failed" in one transaction, so a crash between the two leaves it bouncing and the DSN is
// written on the next pass — never twice, never lost. The DSN goes to the envelope sender:
// into a local sender's INBOX through the store, or into the spool with the null sender for a
// remote one. A message with the null sender (a bounce) never gets a DSN.
package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Store is the spool the runner works on; *mailstore.Store implements it.
type Store interface {
	mailstore.Spool
}

// BounceStore is what a Bouncer needs of the spool.
type BounceStore interface {
	mailstore.SpoolBounces
}

var _ Store = (*mailstore.Store)(nil)

// Deliverer carries a message to one domain; *delivery.Client implements it. Deliver gives
// every final outcome to m.Progress before it returns (see delivery.Message): the runner
// records final outcomes only there, and deferred ones from what Deliver returns.
type Deliverer interface {
	Deliver(ctx context.Context, m *delivery.Message) []delivery.Result
}

var _ Deliverer = (*delivery.Client)(nil)

// Options configure a Runner. Zero durations and limits take the documented defaults.
type Options struct {
	Store     Store
	Deliverer Deliverer
	// Hostname names this gateway in DSNs.
	Hostname string
	// IsLocalDomain tells local senders (DSN into their INBOX) from remote ones.
	IsLocalDomain func(string) bool
	// Subaddressing finds the account of a local sender's sub-address (user+tag@) for its DSN.
	Subaddressing address.Subaddressing
	// Lifetime: after this long an entry that still fails temporarily bounces. 0: 5 days.
	Lifetime time.Duration
	// MinBackoff, MaxBackoff bound the wait between attempts. 0: 5 minutes, 1 hour.
	MinBackoff, MaxBackoff time.Duration
	// DelayWarning: when an entry still fails temporarily this long after it was queued, its
	// sender gets one delayed-delivery notice. 0: no warnings.
	DelayWarning time.Duration
	// MaxConnections bounds delivery sessions in total (0: 20), MaxPerDomain per destination
	// domain (0: 4).
	MaxConnections, MaxPerDomain int
	// PollInterval is how often the due index is read. 0: 1 second.
	PollInterval time.Duration
	// Wake, when set, is another source of wake-ups (the store's commit notifications).
	Wake <-chan struct{}
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil: slog.Default()
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Runner delivers the spool. Run it once.
type Runner struct {
	opts    Options
	log     *slog.Logger
	bouncer *Bouncer
	limit   *limiter
	metrics *metrics
	wake    chan struct{}

	mu       sync.Mutex
	inflight map[int64]bool
}

// New returns a Runner.
func New(opts Options) (*Runner, error) {
	if opts.Store == nil || opts.Deliverer == nil {
		return nil, errors.New("queue: Store and Deliverer are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Lifetime, 5*24*time.Hour)
	def(&opts.MinBackoff, 5*time.Minute)
	def(&opts.MaxBackoff, time.Hour)
	def(&opts.PollInterval, time.Second)
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 20
	}
	if opts.MaxPerDomain <= 0 {
		opts.MaxPerDomain = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Runner{
		opts: opts, log: opts.Logger,
		limit:    newLimiter(opts.MaxConnections, opts.MaxPerDomain),
		wake:     make(chan struct{}, 1),
		inflight: map[int64]bool{},
	}
	r.bouncer = &Bouncer{Store: opts.Store, Hostname: opts.Hostname, IsLocalDomain: opts.IsLocalDomain, Now: opts.Now,
		Subaddressing: opts.Subaddressing,
		Warn:          func(msg string, args ...any) { r.log.Warn(msg, args...) }}
	m, err := newMetrics(opts.Registerer, opts.Store)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// Wake makes the runner look at the due index now.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run delivers due entries until ctx ends, then waits for the sessions in flight (which ctx's
// end interrupts; their recipients stay pending) and returns.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(r.opts.PollInterval)
	defer tick.Stop()
	for {
		r.scan(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.wake:
		case <-r.opts.Wake:
		}
	}
}

func (r *Runner) scan(ctx context.Context, wg *sync.WaitGroup) {
	defer r.metrics.scans.Inc()
	// Keep a bounded number of entries in flight; the rest wait for a later scan.
	room := 2*r.opts.MaxConnections - r.inflightLen()
	if room <= 0 {
		return
	}
	ids, err := r.opts.Store.QueueDue(ctx, r.opts.Now(), room+r.inflightLen())
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("queue: reading due entries", "err", err)
		}
		return
	}
	for _, id := range ids {
		r.mu.Lock()
		busy := r.inflight[id]
		if !busy && len(r.inflight) < 2*r.opts.MaxConnections {
			r.inflight[id] = true
		} else {
			busy = true
		}
		r.mu.Unlock()
		if busy {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				r.mu.Lock()
				delete(r.inflight, id)
				r.mu.Unlock()
				r.Wake() // the entry may be due again already (flushed while in flight)
			}()
			if err := r.process(ctx, id); err != nil && ctx.Err() == nil {
				r.log.Error("queue: processing entry", "queue_id", id, "err", err)
			}
		}()
	}
}

func (r *Runner) inflightLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inflight)
}

// process makes one attempt at entry id.
func (r *Runner) process(ctx context.Context, id int64) error {
	e, err := r.opts.Store.QueueEntry(ctx, id)
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := r.opts.Now()
	if e.Held || e.NextAttempt.After(now) {
		return nil // held or rescheduled since the scan
	}
	// Outcomes must be recorded even when ctx ends mid-session: the peer has answered.
	rec := context.WithoutCancel(ctx)
	byDomain := map[string][]string{}
	var domains []string
	for _, rc := range e.Recipients {
		if rc.State != mailstore.RcptPending {
			continue
		}
		d := strings.ToLower(rc.Address[strings.LastIndexByte(rc.Address, '@')+1:])
		if byDomain[d] == nil {
			domains = append(domains, d)
		}
		byDomain[d] = append(byDomain[d], rc.Address)
	}
	sort.Strings(domains)

	var results []delivery.Result
	if len(domains) > 0 {
		results, err = r.deliver(ctx, e, domains, byDomain)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // shutting down: not an attempt; the entry is still due
		}
	}

	expired := !now.Before(e.Created.Add(r.opts.Lifetime))
	var deferred []mailstore.QueueRecipient
	var deferredRes []delivery.Result
	var lastErr string
	for _, res := range results {
		if res.Outcome != delivery.Deferred {
			continue
		}
		deferredRes = append(deferredRes, res)
		lastErr = encodeResult(res)
		st := mailstore.RcptPending
		if expired {
			st = mailstore.RcptBouncing
			res.Reply = "delivery time expired; last error: " + res.Reply
			lastErr = encodeResult(res)
		}
		deferred = append(deferred, mailstore.QueueRecipient{Address: res.Rcpt, State: st, LastError: lastErr})
		r.metrics.deliveries.WithLabelValues(res.Outcome.String()).Inc()
		r.log.Info("queue delivery", "queue_id", id, "sender", e.Sender, "rcpt", res.Rcpt, "result", "deferred", "expired", expired,
			"status", res.Status, "mta", res.MTA, "reply", res.Reply)
	}
	if len(deferred) > 0 {
		if err := r.opts.Store.QueueRecord(rec, id, deferred); err != nil && !errors.Is(err, mailstore.ErrNotFound) {
			return err
		}
	}
	st := mailstore.Settle{Attempted: len(results) > 0, LastError: lastErr}
	if st.Attempted {
		st.NextAttempt = r.next(e, now)
	}
	if w := r.opts.DelayWarning; w > 0 && !expired && !e.Warned && len(deferredRes) > 0 && !now.Before(e.Created.Add(w)) {
		st.Warning, err = r.bouncer.Delayed(rec, e, deferredRes, e.Created.Add(r.opts.Lifetime))
		if err != nil {
			return err
		}
	}
	done, err := r.bouncer.Settle(rec, id, st)
	if errors.Is(err, mailstore.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if done {
		r.log.Info("queue entry done", "queue_id", id, "env_id", e.EnvelopeID)
	}
	return nil
}

// next is when entry e is due again after an attempt at now that left recipients pending.
func (r *Runner) next(e mailstore.QueueEntry, now time.Time) time.Time {
	d := r.opts.MinBackoff
	for i := 0; i < e.Attempts && d < r.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.opts.MaxBackoff)
	t := now.Add(d)
	if end := e.Created.Add(r.opts.Lifetime); t.After(end) && now.Before(end) {
		t = end // one last attempt when the lifetime ends
	}
	return t
}

// deliver runs one session per domain, concurrently within the limits, recording outcomes as
// the sessions report them.
func (r *Runner) deliver(ctx context.Context, e mailstore.QueueEntry, domains []string, byDomain map[string][]string) ([]delivery.Result, error) {
	rc, size, err := r.opts.Store.OpenBody(ctx, e.BodyID)
	if err != nil {
		return nil, fmt.Errorf("opening the body: %w", err)
	}
	needs8, needsUTF8, err := delivery.Inspect(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	rec := context.WithoutCancel(ctx)
	var mu sync.Mutex
	var all []delivery.Result
	var wg sync.WaitGroup
	for _, d := range domains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.limit.acquire(ctx, d); err != nil {
				return
			}
			defer r.limit.release(d)
			m := &delivery.Message{
				From: e.Sender, To: byDomain[d], Domain: d, Size: size,
				Needs8Bit: needs8, NeedsUTF8: needsUTF8,
				Open: func() (io.ReadCloser, error) {
					rc, _, err := r.opts.Store.OpenBody(ctx, e.BodyID)
					return rc, err
				},
				Progress: func(res []delivery.Result) { r.record(rec, e, res) },
			}
			start := time.Now()
			res := r.opts.Deliverer.Deliver(ctx, m)
			r.metrics.session.Observe(time.Since(start).Seconds())
			mu.Lock()
			all = append(all, res...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, nil
}

// record commits final outcomes (delivered, failed) as soon as the session knows them.
func (r *Runner) record(ctx context.Context, e mailstore.QueueEntry, res []delivery.Result) {
	out := make([]mailstore.QueueRecipient, 0, len(res))
	now := r.opts.Now()
	for _, x := range res {
		switch x.Outcome {
		case delivery.Delivered:
			out = append(out, mailstore.QueueRecipient{Address: x.Rcpt, State: mailstore.RcptDelivered, LastError: ""})
			r.metrics.latency.Observe(now.Sub(e.Created).Seconds())
		case delivery.Failed:
			out = append(out, mailstore.QueueRecipient{Address: x.Rcpt, State: mailstore.RcptBouncing, LastError: encodeResult(x)})
		default:
			continue
		}
		r.metrics.deliveries.WithLabelValues(x.Outcome.String()).Inc()
		r.log.Info("queue delivery", "queue_id", e.ID, "sender", e.Sender, "rcpt", x.Rcpt, "result", x.Outcome.String(), "status", x.Status, "mta", x.MTA, "reply", x.Reply)
	}
	if len(out) == 0 {
		return
	}
	if err := r.opts.Store.QueueRecord(ctx, e.ID, out); err != nil && !errors.Is(err, mailstore.ErrNotFound) {
		// The outcome is lost only if the process also dies before the next attempt, which
		// then repeats the delivery; log loudly.
		r.log.Error("queue: recording outcomes failed", "queue_id", e.ID, "err", err)
	}
}
