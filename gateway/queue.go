package gateway

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/dane"
	"github.com/sealgate/sealgate/gateway/delivery"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/gateway/mtasts"
	"github.com/sealgate/sealgate/gateway/queue"
	"github.com/sealgate/sealgate/gateway/tlsrpt"
)

// buildQueue makes the outbound delivery client and the queue runner, which runs as a worker
// from Start to Shutdown.
func (g *Gateway) buildQueue() error {
	var sts delivery.STSResolver
	if g.cfg.Outbound.MTASTS {
		sts = mtasts.New(mtasts.Options{LookupTXT: g.dns.LookupTXT, Now: g.now, Logger: g.log})
	}
	var dr delivery.DANEResolver
	if g.cfg.Outbound.DANE && g.cfg.DNS.Resolver != "" {
		dr = &dane.Resolver{Server: g.cfg.DNS.Resolver}
	}
	sec := deliverySecurity{sts: sts, dane: dr, mxPort: g.mxPort}
	if g.cfg.Outbound.TLSReports && len(g.cfg.Domains) > 0 {
		rec := tlsrpt.NewRecorder(g.now)
		sec.reports = rec
		g.buildTLSReports(rec)
	}
	client, err := newDeliveryClient(withRelayRoutes(g.cfg), g.cfg.Hostname, g.resolver, sec, g.log)
	if err != nil {
		return err
	}
	q := g.cfg.Queue
	r, err := queue.New(queue.Options{
		Store:          g.store,
		Deliverer:      client,
		Hostname:       g.cfg.Hostname,
		IsLocalDomain:  g.cfg.IsLocalDomain,
		Subaddressing:  g.cfg.Subaddressing(),
		Lifetime:       q.Lifetime.D(),
		DelayWarning:   q.DelayWarning.D(),
		MinBackoff:     q.MinBackoff.D(),
		MaxBackoff:     q.MaxBackoff.D(),
		MaxConnections: q.MaxConnections,
		MaxPerDomain:   q.MaxConnectionsPerDomain,
		Wake:           g.queueWake,
		Now:            g.now,
		Logger:         g.log,
		Registerer:     g.registry,
	})
	if err != nil {
		return err
	}
	g.workers.list = append(g.workers.list, worker{name: "queue", run: r.Run})
	return nil
}

// wakeQueue is the store's commit hook for the queue: a commit that spooled mail wakes the
// runner without waiting for its next look at the due index.
func wakeQueue(ch chan struct{}, d mailstore.Delivered) {
	if len(d.QueueIDs) == 0 {
		return
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// newDeliveryClient turns [outbound] into a delivery client.
// deliverySecurity are the policies that raise the TLS requirements of MX delivery.
type deliverySecurity struct {
	sts     delivery.STSResolver
	dane    delivery.DANEResolver
	reports delivery.TLSRecorder // nil: no TLS reports
	mxPort  int                  // 0: 25
}

func newDeliveryClient(o config.Outbound, hostname string, res delivery.Resolver, sec deliverySecurity, log *slog.Logger) (*delivery.Client, error) {
	policy := func(key, s string) (delivery.TLSPolicy, error) {
		p, err := delivery.ParseTLSPolicy(s)
		if err != nil {
			return 0, fmt.Errorf("outbound.%s: %w", key, err)
		}
		return p, nil
	}
	mxTLS, err := policy("tls", o.TLS)
	if err != nil {
		return nil, err
	}
	perDomain := map[string]delivery.TLSPolicy{}
	for d, s := range o.RouteTLS {
		p, err := policy("route_tls", s)
		if err != nil {
			return nil, err
		}
		perDomain[strings.ToLower(d)] = p
	}
	opts := delivery.Options{Hostname: hostname, Resolver: res, TLS: mxTLS, Routes: map[string]delivery.Route{}, DomainTLS: perDomain,
		STS: sec.sts, DANE: sec.dane, TLSReports: sec.reports, Port: sec.mxPort, Logger: log}
	for d, addr := range o.Routes {
		d = strings.ToLower(d)
		p, ok := perDomain[d]
		if !ok {
			p = delivery.TLSOpportunistic
		}
		opts.Routes[d] = delivery.Route{Addr: addr, TLS: p}
	}
	if o.Smarthost != "" {
		p, err := policy("smarthost_tls", o.SmarthostTLS)
		if err != nil {
			return nil, err
		}
		opts.Smarthost = &delivery.Route{Addr: o.Smarthost, TLS: p}
		if o.SmarthostUsername != "" {
			pw, err := readFirstLine(o.SmarthostPasswordFile)
			if err != nil {
				return nil, fmt.Errorf("outbound.smarthost_password_file: %w", err)
			}
			opts.Smarthost.Auth = &delivery.Auth{Username: o.SmarthostUsername, Password: pw}
		}
	}
	return delivery.New(opts), nil
}

func readFirstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
