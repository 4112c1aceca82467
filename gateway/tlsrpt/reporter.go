package tlsrpt

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Options configure a Reporter.
type Options struct {
	Recorder *Recorder
	// LookupTXT answers TXT questions (a *net.Resolver's method will do). Required.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// Send submits a report mail from From to the rua addresses. Required.
	Send func(ctx context.Context, from string, to []string, content []byte) error
	// Submitter is this gateway's host name; From the reports' sender (postmaster@ a local
	// domain, which also is the contact-info).
	Submitter, From string
	// Interval is how often reports are sent; 0 is 24 hours (RFC 8460 §4.1).
	Interval time.Duration
	// Store keeps the counts between reports; nil keeps them in memory only.
	Store Store
	// SaveInterval is how often counts move from memory to Store; 0 is one minute.
	SaveInterval time.Duration
	Logger       *slog.Logger // nil: slog.Default()
}

// Store keeps counts durably between reports. mailstore.Store and pgstore.Store implement it.
type Store interface {
	mailstore.TLSCounts
}

var _ Store = (*mailstore.Store)(nil)

// Reporter sends the reports.
type Reporter struct {
	opts Options
	log  *slog.Logger
}

// NewReporter returns a Reporter.
func NewReporter(opts Options) *Reporter {
	if opts.Interval <= 0 {
		opts.Interval = 24 * time.Hour
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Reporter{opts: opts, log: log}
}

// Run sends each interval's reports until ctx ends, moving counts to the Store meanwhile.
// When ctx ends the counts in memory go to the Store (see the package doc); the store must
// stay open until Run returns.
func (r *Reporter) Run(ctx context.Context) {
	report := time.NewTicker(r.opts.Interval)
	defer report.Stop()
	var saveC <-chan time.Time
	if r.opts.Store != nil {
		save := time.NewTicker(r.opts.SaveInterval)
		defer save.Stop()
		saveC = save.C
	}
	for {
		select {
		case <-ctx.Done():
			if r.opts.Store != nil {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				r.save(sctx)
				cancel()
			}
			return
		case <-saveC:
			r.save(ctx)
		case <-report.C:
			r.Flush(ctx)
		}
	}
}

// save moves the counts in memory to the Store.
func (r *Reporter) save(ctx context.Context) error {
	rows := r.opts.Recorder.Take().counts()
	if len(rows) == 0 {
		return nil
	}
	err := r.opts.Store.AddTLSCounts(ctx, rows)
	if err != nil {
		r.log.Error("TLS report counts lost: not stored", "err", err)
	}
	return err
}

// Flush takes the counts since the last flush and sends every domain's report.
func (r *Reporter) Flush(ctx context.Context) {
	if r.opts.Store == nil {
		p := r.opts.Recorder.Take()
		for domain, policies := range p.Domains {
			r.report(ctx, domain, policies, p.Begin, p.End)
		}
		return
	}
	if r.save(ctx) != nil {
		return
	}
	rows, err := r.opts.Store.TakeTLSCounts(ctx)
	if err != nil {
		r.log.Error("TLS reports not sent: counts not read", "err", err)
		return
	}
	for domain, p := range periods(rows, r.opts.Recorder.now()) {
		r.report(ctx, domain, p.Domains[domain], p.Begin, p.End)
	}
}

func (r *Reporter) report(ctx context.Context, domain string, policies []*PolicyCounts, begin, end time.Time) {
	if ctx.Err() != nil {
		return
	}
	err := r.send(ctx, domain, policies, begin, end)
	switch {
	case errors.Is(err, ErrNoRecord):
		r.log.Debug("TLS report not sent: no TLSRPT record", "domain", domain, "err", err)
	case err != nil:
		r.log.Warn("TLS report not sent", "domain", domain, "err", err)
	}
}

func (r *Reporter) send(ctx context.Context, domain string, policies []*PolicyCounts, begin, end time.Time) error {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	txts, err := r.opts.LookupTXT(lctx, "_smtp._tls."+domain)
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return ErrNoRecord
	}
	if err != nil {
		return err
	}
	rua, err := ParseRecord(txts)
	if err != nil {
		return err
	}
	m, err := Compose(ComposeOptions{Submitter: r.opts.Submitter, From: r.opts.From, To: rua}, domain, policies, begin, end)
	if err != nil {
		return err
	}
	if err := r.opts.Send(ctx, r.opts.From, rua, m.Content); err != nil {
		return err
	}
	r.log.Info("TLS report sent", "domain", domain, "report_id", m.Report.ReportID, "rua", rua)
	return nil
}
