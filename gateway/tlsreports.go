package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/msgbuf"
	"github.com/sealgate/sealgate/gateway/pipeline"
	"github.com/sealgate/sealgate/gateway/tlsrpt"
)

// buildTLSReports makes the TLS report worker ([outbound] tls_reports) around rec, the
// recorder the delivery client reports to.
func (g *Gateway) buildTLSReports(rec *tlsrpt.Recorder) {
	from := "postmaster@" + g.cfg.Domains[0]
	r := tlsrpt.NewReporter(tlsrpt.Options{
		Recorder: rec, Store: g.store, LookupTXT: g.dns.LookupTXT, Send: g.sendTLSReport,
		Submitter: g.cfg.Hostname, From: from, Interval: g.cfg.Outbound.TLSReportInterval.D(), Logger: g.log,
	})
	g.workers.list = append(g.workers.list, worker{name: "tls-reports", run: r.Run})
}

// sendTLSReport submits a report like mail from the organisation's own servers: through the
// pipeline (DKIM, policy) into the queue, or a local mailbox when a rua address is local.
func (g *Gateway) sendTLSReport(ctx context.Context, from string, to []string, content []byte) error {
	now := time.Now
	if g.now != nil {
		now = g.now
	}
	env := &pipeline.Envelope{ID: envelope.NewID(), Role: pipeline.RoleMX, RemoteIP: netip.IPv6Loopback(), Helo: g.cfg.Hostname,
		MailFrom: from, ReceivedAt: now(), TrustedClient: true, TrustedSender: true}
	for _, s := range to {
		a, err := address.Parse(s)
		if err != nil {
			return fmt.Errorf("rua %q: %w", s, err)
		}
		if a.IsLiteral() || !g.cfg.IsLocalDomain(a.Domain) {
			env.Recipients = append(env.Recipients, envelope.Recipient{Address: a, Relay: !a.IsLiteral() && g.cfg.IsRelayDomain(a.Domain)})
			continue
		}
		rcs, err := g.directory.Recipients(ctx, a, from)
		if err != nil {
			return fmt.Errorf("rua %s: %w", a, err)
		}
		env.Recipients = append(env.Recipients, rcs...)
	}
	buf := msgbuf.New(msgbuf.Options{Dir: g.spoolDir, MaxSize: int64(g.cfg.Limits.MaxMessageSize)})
	defer buf.Discard()
	if _, err := buf.ReadFrom(bytes.NewReader(content)); err != nil {
		return err
	}
	if err := buf.Finish(); err != nil {
		return err
	}
	_, err := g.pipe.Process(ctx, env, buf)
	return err
}
