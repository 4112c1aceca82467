package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// schemaV3 adds the TLS session counts of outbound delivery between two TLS reports (RFC 8460,
// gateway/tlsrpt), shared by every node: whichever node sends the next reports takes them all.
const schemaV3 = `
CREATE TABLE tls_report_counts (
	domain        text NOT NULL,
	policy_type   text NOT NULL,
	policy_string text NOT NULL,
	result_type   text NOT NULL,
	mx_host       text NOT NULL,
	ip            text NOT NULL,
	detail        text NOT NULL,
	count         bigint NOT NULL,
	since         bigint NOT NULL,
	PRIMARY KEY (domain, policy_type, policy_string, result_type, mx_host, ip)
);
`

// AddTLSCounts adds counts to the stored ones, in one transaction (mailstore.Store.AddTLSCounts).
func (s *Store) AddTLSCounts(ctx context.Context, counts []mailstore.TLSCount) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, c := range counts {
			if _, err := tx.Exec(ctx, mailstore.TLSCountUpsert, c.Domain, c.PolicyType, c.PolicyString, c.ResultType, c.MXHost, c.IP,
				c.Detail, c.Count, c.Since.Unix()); err != nil {
				return err
			}
		}
		return nil
	})
}

// TakeTLSCounts removes the stored counts and returns them (mailstore.Store.TakeTLSCounts).
func (s *Store) TakeTLSCounts(ctx context.Context) ([]mailstore.TLSCount, error) {
	var out []mailstore.TLSCount
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, mailstore.TLSCountTake)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = mailstore.ScanTLSCounts(rows)
		return err
	})
	return out, err
}
