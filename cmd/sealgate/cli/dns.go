package cli

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/dnsrecords"
	"github.com/sealgate/sealgate/gateway/mailauth"
)

// httpsPort is where autodiscover clients are sent: the https listener's port, else the
// standard one, where a proxy in front of web mail answers.
func httpsPort(cfg *config.Config) int {
	if p := listenPort(cfg.Listen.HTTPS); p != 0 {
		return p
	}
	return 443
}

func dnsCmd(g *globals) *cobra.Command {
	c := group("dns", "Print the DNS records a domain needs, and check them")
	var asJSON, checkJSON bool
	records := &cobra.Command{
		Use:   "records [DOMAIN] [--json]",
		Short: "Print every DNS record to publish for DOMAIN (every local domain without it), in zone-file form",
		Long: "Print every record DOMAIN needs: MX, SPF, DKIM, DMARC, MTA-STS (and its policy text),\n" +
			"TLS-RPT, SRV records for submission, IMAP and POP3 (RFC 6186, RFC 8314), the autoconfig,\n" +
			"autodiscover and WKD names. The SRV ports are those of the configured listeners; a listener\n" +
			"that is off is published as not offered. The hostname's A/AAAA and PTR records are left to\n" +
			"the operator.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withAdmin(func(a *admin) error {
				all, err := a.dnsDomains(args)
				if err != nil {
					return err
				}
				if asJSON {
					return g.printJSON(slices.Concat(all...))
				}
				for i, recs := range all {
					if i > 0 {
						fmt.Fprintln(g.env.Stdout)
					}
					printZone(g, recs)
				}
				return nil
			})
		},
	}
	records.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of records")
	check := &cobra.Command{
		Use:   "check [DOMAIN] [--json]",
		Short: "Compare DOMAIN's records (every local domain's without it) with what the resolver answers",
		Long: "Ask the resolver ([dns] resolver, else the first name server of /etc/resolv.conf) for every\n" +
			"record `dns records` prints and report each that is missing or different. Exits non-zero\n" +
			"when any is.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res []dnsrecords.Result
			err := g.withAdmin(func(a *admin) error {
				all, err := a.dnsDomains(args)
				if err != nil {
					return err
				}
				server := a.cfg.DNS.Resolver
				if server == "" {
					if server, err = dnsrecords.SystemServer(); err != nil {
						return err
					}
				}
				res = dnsrecords.Check(a.ctx, dnsrecords.Resolver{Server: server}, slices.Concat(all...))
				return nil
			})
			if err != nil {
				return err
			}
			bad := 0
			for _, r := range res {
				if !r.OK {
					bad++
				}
			}
			if checkJSON {
				if err := g.printJSON(res); err != nil {
					return err
				}
			} else {
				for _, r := range res {
					if r.OK {
						fmt.Fprintf(g.env.Stdout, "ok       %s %s\n", r.Record.Name, r.Record.Type)
						continue
					}
					fmt.Fprintf(g.env.Stdout, "MISMATCH %s %s: %s\n  want: %s\n  have: %s\n", r.Record.Name, r.Record.Type, r.Reason,
						r.Record.Value, strings.Join(r.Have, " | "))
				}
			}
			if bad > 0 {
				return fmt.Errorf("dns check: %d of %d records are missing or different", bad, len(res))
			}
			return nil
		},
	}
	check.Flags().BoolVar(&checkJSON, "json", false, "print the results as a JSON array")
	c.AddCommand(records, check)
	return c
}

// dnsDomains makes the records of the domain in args, or of every local domain.
func (a *admin) dnsDomains(args []string) ([][]dnsrecords.Record, error) {
	domains := args
	if len(domains) == 0 {
		domains = a.cfg.Domains
	}
	var out [][]dnsrecords.Record
	for _, d := range domains {
		recs, err := a.dnsRecords(d)
		if err != nil {
			return nil, err
		}
		out = append(out, recs)
	}
	return out, nil
}

// dnsRecords makes the records of a local domain from the configuration and its DKIM keys.
func (a *admin) dnsRecords(domain string) ([]dnsrecords.Record, error) {
	cfg := a.cfg
	d, err := a.localDomain(domain)
	if err != nil {
		return nil, err
	}
	files, err := a.Files()
	if err != nil {
		return nil, err
	}
	var dk []dnsrecords.DKIM
	recs, err := (&mailauth.DKIMKeys{Files: files}).Records(d)
	if err != nil && !errors.Is(err, mailauth.ErrNoDKIMKey) {
		return nil, err
	}
	for _, r := range recs {
		dk = append(dk, dnsrecords.DKIM{Name: r.Name, Value: r.Value})
	}
	return dnsrecords.Records(dnsrecords.Options{
		Domain: d, Hostname: cfg.Hostname, Mailboxes: true, DKIM: dk, MTASTS: gateway.MTASTSPolicy(cfg),
		Ports: dnsrecords.Ports{
			Submission: listenPort(cfg.Listen.Submission), Submissions: listenPort(cfg.Listen.Submissions),
			IMAP: listenPort(cfg.Listen.IMAP), IMAPS: listenPort(cfg.Listen.IMAPS),
			POP3: listenPort(cfg.Listen.POP3), POP3S: listenPort(cfg.Listen.POP3S),
			HTTPS: httpsPort(cfg),
		},
	}), nil
}

// listenPort is the port of a listener address; 0 when the listener is off.
func listenPort(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// printZone prints records in zone-file form, each after a comment saying what it is for,
// the MTA-STS policy text as comments after its record.
func printZone(g *globals, recs []dnsrecords.Record) {
	for _, r := range recs {
		if r.Type == dnsrecords.TypeMX {
			_, host, _ := strings.Cut(r.Value, " ")
			fmt.Fprintf(g.env.Stdout, "; Records for %s. %s needs A/AAAA records of this server's public addresses,\n"+
				"; and each address a PTR record naming it; those are not shown.\n\n", r.Name, strings.TrimSuffix(host, "."))
		}
	}
	hasDKIM := false
	for _, r := range recs {
		if strings.Contains(r.Name, "._domainkey.") {
			hasDKIM = true
		}
	}
	for i, r := range recs {
		if i > 0 {
			fmt.Fprintln(g.env.Stdout)
		}
		fmt.Fprintf(g.env.Stdout, "; %s\n%s\n", r.Purpose, r.Zone())
		if r.Policy != "" {
			fmt.Fprintf(g.env.Stdout, "; served at https://mta-sts.%s/.well-known/mta-sts.txt:\n", strings.TrimPrefix(r.Name, "_mta-sts."))
			for _, l := range strings.Split(strings.TrimRight(r.Policy, "\r\n"), "\r\n") {
				fmt.Fprintf(g.env.Stdout, ";   %s\n", l)
			}
		}
		if r.Type == dnsrecords.TypeTXT && strings.HasPrefix(r.Value, "v=DMARC1") && !hasDKIM {
			fmt.Fprintf(g.env.Stdout, "; no DKIM key yet: make one with `sealgate dkim generate %s`\n", recs[0].Name)
		}
	}
}

// dkimZone is a DKIM record in zone-file form.
func dkimZone(r mailauth.DKIMRecord) string {
	return dnsrecords.Record{Name: r.Name, Type: dnsrecords.TypeTXT, TTL: dnsrecords.DefaultTTL, Value: r.Value}.Zone()
}
