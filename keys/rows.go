package keys

import (
	"time"

	"github.com/sealgate/sealgate/crypto/sqlrows"
)

// The functions below read and write keyring rows the same way for every SQL backend (the
// embedded SQLite one and keys/pgkeys): times as Unix nanoseconds, 0 for the zero time;
// scheme and trust as text.

// Rows and Row are the shared row interfaces (crypto/sqlrows) the keyring's scanners read.
type (
	Rows = sqlrows.Rows
	Row  = sqlrows.Row
)

// UnixNanos is t as stored: Unix nanoseconds, 0 for the zero time.
func UnixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNanos is the time UnixNanos stored, in UTC; 0 is the zero time.
func FromUnixNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// RecordValues returns the stored columns of r, in the order fingerprint, scheme, algorithm,
// created, expires, revoked, trust, source, added, updated, public, sealed, chain,
// issuer_serial, ski. A nil Sealed or Chain is NULL. Addresses and key ids are kept apart.
func RecordValues(r Record) []any {
	return []any{r.Fingerprint, string(r.Scheme), r.Algorithm, UnixNanos(r.Created), UnixNanos(r.Expires),
		UnixNanos(r.Revoked), string(r.Trust), r.Source, UnixNanos(r.Added), UnixNanos(r.Updated),
		r.Public, r.Sealed, r.Chain, r.IssuerSerial, r.SubjectKeyID}
}

// ScanRecord reads the current row: the columns RecordValues gives, in that order, then the
// rest of the row into more. Secret is set when the sealed key is present.
func ScanRecord(row Row, more ...any) (Record, error) {
	var r Record
	var scheme, trust string
	var created, expires, revoked, added, updated int64
	dest := append([]any{&r.Fingerprint, &scheme, &r.Algorithm, &created, &expires, &revoked, &trust, &r.Source,
		&added, &updated, &r.Public, &r.Sealed, &r.Chain, &r.IssuerSerial, &r.SubjectKeyID}, more...)
	if err := row.Scan(dest...); err != nil {
		return Record{}, err
	}
	r.Scheme, r.Trust = Scheme(scheme), Trust(trust)
	r.Created, r.Expires, r.Revoked = FromUnixNanos(created), FromUnixNanos(expires), FromUnixNanos(revoked)
	r.Added, r.Updated = FromUnixNanos(added), FromUnixNanos(updated)
	r.Secret = r.Sealed != nil
	return r, nil
}

// ScanString reads a row of one text column.
func ScanString(row Row) (s string, err error) {
	err = row.Scan(&s)
	return s, err
}

// ScanAudit reads a row of (at, actor, action, fingerprint, detail).
func ScanAudit(row Row) (AuditEntry, error) {
	var a AuditEntry
	var at int64
	if err := row.Scan(&at, &a.Actor, &a.Action, &a.Fingerprint, &a.Detail); err != nil {
		return AuditEntry{}, err
	}
	a.At = FromUnixNanos(at)
	return a, nil
}

// ScanPending reads a row of (id, at, address, scheme, old fingerprint, new fingerprint,
// source).
func ScanPending(row Row) (PendingChange, error) {
	var p PendingChange
	var at int64
	var scheme string
	if err := row.Scan(&p.ID, &at, &p.Address, &scheme, &p.OldFingerprint, &p.NewFingerprint, &p.Source); err != nil {
		return PendingChange{}, err
	}
	p.At, p.Scheme = FromUnixNanos(at), Scheme(scheme)
	return p, nil
}
