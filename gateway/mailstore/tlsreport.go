package mailstore

import (
	"context"
	"database/sql"
	"time"
)

// schemaTLSReport: the TLS session counts of outbound delivery between two TLS reports
// (RFC 8460, gateway/tlsrpt). One row per destination, policy, result and MX address.
const schemaTLSReport = `
CREATE TABLE IF NOT EXISTS tls_report_counts (
	domain        TEXT NOT NULL,
	policy_type   TEXT NOT NULL,
	policy_string TEXT NOT NULL,    -- the policy's lines, joined with LF
	result_type   TEXT NOT NULL,    -- "" counts successful sessions
	mx_host       TEXT NOT NULL,
	ip            TEXT NOT NULL,
	detail        TEXT NOT NULL,    -- the first failure's description
	count         INTEGER NOT NULL,
	since         INTEGER NOT NULL, -- the start of the first interval counted (Unix seconds)
	PRIMARY KEY (domain, policy_type, policy_string, result_type, mx_host, ip)
) STRICT, WITHOUT ROWID;
`

// TLSCount counts TLS sessions of one kind with a destination's MX hosts, kept between two
// TLS reports. Successful sessions have ResultType, MXHost and IP "".
type TLSCount struct {
	Domain, PolicyType string
	PolicyString       string // the policy's lines joined with "\n"
	ResultType         string
	MXHost, IP, Detail string
	Count              int64
	Since              time.Time
}

// TLSCountUpsert adds a count to its row: counts add up, the earliest Since and the first
// Detail stay. Both backends run it (SQLite and PostgreSQL share the syntax).
const TLSCountUpsert = `INSERT INTO tls_report_counts
	(domain, policy_type, policy_string, result_type, mx_host, ip, detail, count, since)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (domain, policy_type, policy_string, result_type, mx_host, ip) DO UPDATE SET
	count = tls_report_counts.count + excluded.count,
	since = CASE WHEN excluded.since < tls_report_counts.since THEN excluded.since ELSE tls_report_counts.since END`

// TLSCountTake removes every count and returns them.
const TLSCountTake = `DELETE FROM tls_report_counts
	RETURNING domain, policy_type, policy_string, result_type, mx_host, ip, detail, count, since`

// AddTLSCounts adds counts to the stored ones, in one transaction.
func (s *Store) AddTLSCounts(ctx context.Context, counts []TLSCount) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, c := range counts {
			if _, err := tx.Exec(TLSCountUpsert, c.Domain, c.PolicyType, c.PolicyString, c.ResultType, c.MXHost, c.IP,
				c.Detail, c.Count, c.Since.Unix()); err != nil {
				return err
			}
		}
		return nil
	})
}

// TakeTLSCounts removes the stored counts and returns them, in one transaction: each count
// is taken once, by one caller.
func (s *Store) TakeTLSCounts(ctx context.Context) ([]TLSCount, error) {
	var out []TLSCount
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(TLSCountTake)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = ScanTLSCounts(rows)
		return err
	})
	return out, err
}

// ScanTLSCounts reads rows of TLSCountTake's columns.
func ScanTLSCounts(rows Rows) ([]TLSCount, error) {
	var out []TLSCount
	for rows.Next() {
		var c TLSCount
		var since int64
		if err := rows.Scan(&c.Domain, &c.PolicyType, &c.PolicyString, &c.ResultType, &c.MXHost, &c.IP, &c.Detail, &c.Count, &since); err != nil {
			return nil, err
		}
		c.Since = time.Unix(since, 0)
		out = append(out, c)
	}
	return out, rows.Err()
}
