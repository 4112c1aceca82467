package tlsrpt

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
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
	Logger   *slog.Logger // nil: slog.Default()
}

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
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Reporter{opts: opts, log: log}
}

// Run sends each interval's reports until ctx ends. The counts of the interval under way when
// ctx ends are dropped (see the package doc).
func (r *Reporter) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Flush(ctx)
		}
	}
}

// Flush takes the counts since the last flush and sends every domain's report.
func (r *Reporter) Flush(ctx context.Context) {
	p := r.opts.Recorder.Take()
	for domain, policies := range p.Domains {
		if ctx.Err() != nil {
			return
		}
		if err := r.send(ctx, domain, policies, p); err != nil {
			if errors.Is(err, ErrNoRecord) {
				r.log.Debug("TLS report not sent: no TLSRPT record", "domain", domain, "err", err)
				continue
			}
			r.log.Warn("TLS report not sent", "domain", domain, "err", err)
		}
	}
}

func (r *Reporter) send(ctx context.Context, domain string, policies []*PolicyCounts, p Period) error {
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
	m, err := Compose(ComposeOptions{Submitter: r.opts.Submitter, From: r.opts.From, To: rua}, domain, policies, p.Begin, p.End)
	if err != nil {
		return err
	}
	if err := r.opts.Send(ctx, r.opts.From, rua, m.Content); err != nil {
		return err
	}
	r.log.Info("TLS report sent", "domain", domain, "report_id", m.Report.ReportID, "rua", rua)
	return nil
}
