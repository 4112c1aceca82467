// Package keystest is the conformance suite of the keyring's Backend contract (keys.Backend),
// run against every implementation: the embedded SQLite backend (keys) and PostgreSQL
// (keys/pgkeys). It is test-only code.
package keystest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sealgate/sealgate/keys"
)

// Opener opens a backend on one storage (a data directory, a database). Calling it again
// opens another backend on the same storage, as a second process or node would.
type Opener func(t *testing.T) keys.Backend

// Run runs the suite. fresh returns an Opener for new, empty storage each time it is called;
// backends it opens are closed by the suite.
func Run(t *testing.T, fresh func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"RoundTrip", testRoundTrip},
		{"PutReplaces", testPutReplaces},
		{"Find", testFind},
		{"Delete", testDelete},
		{"UpdateAtomic", testUpdateAtomic},
		{"ViewSnapshot", testViewSnapshot},
		{"AuditAndPending", testAuditAndPending},
		{"SharedStorage", testSharedStorage},
		{"UpdatesSerialized", testUpdatesSerialized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

func open(t *testing.T, o Opener) keys.Backend {
	t.Helper()
	b := o(t)
	t.Cleanup(func() { b.Close() })
	return b
}

// at is a time with nanoseconds, which every backend must keep.
func at(sec int64) time.Time { return time.Unix(1_700_000_000+sec, 123456789).UTC() }

func record(fpr string, scheme keys.Scheme, added int64, addrs ...string) keys.Record {
	r := keys.Record{
		Entry: keys.Entry{
			Fingerprint: fpr, Scheme: scheme, Algorithm: "ed25519", Addresses: addrs,
			Created: at(1), Trust: keys.TrustVerified, Source: keys.SourceImported,
			Added: at(added), Updated: at(added + 1),
		},
		Public: []byte("public " + fpr),
	}
	if scheme == keys.SchemePGP {
		r.KeyIDs = []string{fpr[len(fpr)-16:]}
	}
	return r
}

func put(t *testing.T, b keys.Backend, rs ...keys.Record) {
	t.Helper()
	err := b.Update(context.Background(), func(tx keys.Tx) error {
		for _, r := range rs {
			if err := tx.Put(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, b keys.Backend, fpr string) (keys.Record, error) {
	t.Helper()
	var r keys.Record
	err := b.View(context.Background(), func(tx keys.Tx) error {
		var err error
		r, err = tx.Get(fpr)
		return err
	})
	return r, err
}

func find(t *testing.T, b keys.Backend, q keys.Query) []string {
	t.Helper()
	var fprs []string
	err := b.View(context.Background(), func(tx keys.Tx) error {
		rs, err := tx.Find(q)
		for _, r := range rs {
			fprs = append(fprs, r.Fingerprint)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fprs
}

const (
	fprA = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1"
	fprB = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2"
	fprC = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC3"
	fprD = "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD4"
)

// testRoundTrip: a record comes back exactly as it was put, the sealed secret byte for byte.
func testRoundTrip(t *testing.T, o Opener) {
	b := open(t, o)
	if _, err := get(t, b, fprA); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("Get of a missing record: %v, want keys.ErrNotFound", err)
	}
	pgp := record(fprA, keys.SchemePGP, 10, "alice@example.test", "alice@other.test")
	pgp.Sealed = []byte{0, 1, 2, 0xff, 'x'}
	pgp.Secret = true
	pgp.Expires, pgp.Revoked = at(100), at(50)
	pgp.KeyIDs = []string{"1111111111111111", "2222222222222222"}
	cert := record(fprC, keys.SchemeSMIME, 11, "bob@example.test")
	cert.Algorithm, cert.Trust, cert.Source = "ecdsa-p256", keys.TrustHarvested, keys.SourceSMIME
	cert.Chain = []byte("chain der")
	cert.IssuerSerial, cert.SubjectKeyID = "3082:01", "ABCDEF"
	ca := record(fprD, keys.SchemeCA, 12) // no addresses, no key ids, no secret
	put(t, b, pgp, cert, ca)
	for _, want := range []keys.Record{pgp, cert, ca} {
		got, err := get(t, b, want.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", want.Fingerprint, got, want)
		}
	}
	if got, _ := get(t, b, fprD); got.Secret || got.Sealed != nil || got.Chain != nil {
		t.Errorf("a record without secret or chain came back with one: %+v", got)
	}
}

// testPutReplaces: Put of an existing fingerprint replaces every field, addresses and key ids.
func testPutReplaces(t *testing.T, o Opener) {
	b := open(t, o)
	r := record(fprA, keys.SchemePGP, 10, "alice@example.test", "old@example.test")
	r.Sealed = []byte("sealed")
	r.Secret = true
	put(t, b, r)
	r.Addresses = []string{"alice@example.test", "new@example.net"}
	r.KeyIDs = []string{"3333333333333333"}
	r.Trust, r.Revoked, r.Updated = keys.TrustUntrusted, at(70), at(71)
	r.Sealed, r.Secret = nil, false
	put(t, b, r)
	got, err := get(t, b, fprA)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("after replacing:\n got %+v\nwant %+v", got, r)
	}
	if got := find(t, b, keys.Query{Address: "old@example.test"}); len(got) != 0 {
		t.Errorf("the old address still finds %v", got)
	}
	if got := find(t, b, keys.Query{Domain: "example.net"}); !reflect.DeepEqual(got, []string{fprA}) {
		t.Errorf("the new domain finds %v", got)
	}
	if got := find(t, b, keys.Query{KeyID: fprA[len(fprA)-16:]}); len(got) != 0 {
		t.Errorf("the old key id still finds %v", got)
	}
}

// testFind: every Query field restricts, fields combine, results are oldest (Added) first.
func testFind(t *testing.T, o Opener) {
	b := open(t, o)
	a := record(fprA, keys.SchemePGP, 30, "alice@example.test")
	bb := record(fprB, keys.SchemePGP, 20, "alice@example.test", "bob@example.net")
	c := record(fprC, keys.SchemeSMIME, 10, "alice@example.test")
	c.IssuerSerial, c.SubjectKeyID = "ISSUER:01", "5K1"
	d := record(fprD, keys.SchemeCA, 40)
	d.IssuerSerial = "ISSUER:02"
	put(t, b, a, bb, c, d)
	for _, tc := range []struct {
		q    keys.Query
		want []string
	}{
		{keys.Query{}, []string{fprC, fprB, fprA, fprD}},
		{keys.Query{Scheme: keys.SchemePGP}, []string{fprB, fprA}},
		{keys.Query{Address: "alice@example.test"}, []string{fprC, fprB, fprA}},
		{keys.Query{Address: "alice@example.test", Scheme: keys.SchemeSMIME}, []string{fprC}},
		{keys.Query{Address: "nobody@example.test"}, nil},
		{keys.Query{Domain: "example.net"}, []string{fprB}},
		{keys.Query{Domain: "example.test", Scheme: keys.SchemePGP}, []string{fprB, fprA}},
		{keys.Query{KeyID: fprB[len(fprB)-16:]}, []string{fprB}},
		{keys.Query{IssuerSerial: "ISSUER:02"}, []string{fprD}},
		{keys.Query{SubjectKeyID: "5K1"}, []string{fprC}},
		{keys.Query{SubjectKeyID: "5K1", Scheme: keys.SchemePGP}, nil},
	} {
		if got := find(t, b, tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Find(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// Equal Added times are ordered by fingerprint.
	e := record(fprA[:39]+"0", keys.SchemePGP, 30, "carol@example.test")
	put(t, b, e)
	if got := find(t, b, keys.Query{Scheme: keys.SchemePGP}); !reflect.DeepEqual(got, []string{fprB, e.Fingerprint, fprA}) {
		t.Errorf("tie on Added: %v", got)
	}
}

// testDelete: Delete removes the record with its addresses and key ids; a second Delete is
// ErrNotFound.
func testDelete(t *testing.T, o Opener) {
	b := open(t, o)
	put(t, b, record(fprA, keys.SchemePGP, 1, "alice@example.test"), record(fprB, keys.SchemePGP, 2, "alice@example.test"))
	del := func() error {
		return b.Update(context.Background(), func(tx keys.Tx) error { return tx.Delete(fprA) })
	}
	if err := del(); err != nil {
		t.Fatal(err)
	}
	if err := del(); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("second Delete: %v, want keys.ErrNotFound", err)
	}
	if _, err := get(t, b, fprA); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if got := find(t, b, keys.Query{Address: "alice@example.test"}); !reflect.DeepEqual(got, []string{fprB}) {
		t.Errorf("addresses after Delete find %v", got)
	}
	if got := find(t, b, keys.Query{KeyID: fprA[len(fprA)-16:]}); len(got) != 0 {
		t.Errorf("key ids after Delete find %v", got)
	}
	// The record can be put again.
	put(t, b, record(fprA, keys.SchemePGP, 3, "alice@example.test"))
}

// testUpdateAtomic: an Update whose function fails leaves nothing behind; its own reads see
// its writes.
func testUpdateAtomic(t *testing.T, o Opener) {
	b := open(t, o)
	boom := errors.New("boom")
	err := b.Update(context.Background(), func(tx keys.Tx) error {
		if err := tx.Put(record(fprA, keys.SchemePGP, 1, "alice@example.test")); err != nil {
			return err
		}
		if err := tx.AppendAudit(keys.AuditEntry{At: at(1), Actor: "test", Action: "import", Fingerprint: fprA}); err != nil {
			return err
		}
		if err := tx.AddPending(keys.PendingChange{At: at(1), Address: "alice@example.test", Scheme: keys.SchemePGP}); err != nil {
			return err
		}
		if _, err := tx.Get(fprA); err != nil {
			return fmt.Errorf("the transaction does not see its own Put: %w", err)
		}
		if rs, err := tx.Find(keys.Query{Address: "alice@example.test"}); err != nil || len(rs) != 1 {
			return fmt.Errorf("the transaction's Find: %d, %v", len(rs), err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	if _, err := get(t, b, fprA); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("a failed Update left its record: %v", err)
	}
	b.View(context.Background(), func(tx keys.Tx) error {
		if a, err := tx.Audit(); err != nil || len(a) != 0 {
			t.Errorf("a failed Update left audit entries: %v %v", a, err)
		}
		if p, err := tx.Pending(); err != nil || len(p) != 0 {
			t.Errorf("a failed Update left pending changes: %v %v", p, err)
		}
		return nil
	})
}

// testViewSnapshot: a View sees one snapshot, whatever commits while it runs.
func testViewSnapshot(t *testing.T, o Opener) {
	b := open(t, o)
	put(t, b, record(fprA, keys.SchemePGP, 1, "alice@example.test"))
	err := b.View(context.Background(), func(tx keys.Tx) error {
		if rs, err := tx.Find(keys.Query{}); err != nil || len(rs) != 1 {
			return fmt.Errorf("first read: %d, %v", len(rs), err)
		}
		put(t, b, record(fprB, keys.SchemePGP, 2, "alice@example.test"))
		rs, err := tx.Find(keys.Query{})
		if err != nil {
			return err
		}
		if len(rs) != 1 {
			return fmt.Errorf("a View saw a commit made after it started: %d records", len(rs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := find(t, b, keys.Query{}); len(got) != 2 {
		t.Fatalf("after the View: %v", got)
	}
}

// testAuditAndPending: both logs keep their order and content; pending changes get
// increasing ids.
func testAuditAndPending(t *testing.T, o Opener) {
	b := open(t, o)
	audit := []keys.AuditEntry{
		{At: at(2), Actor: "cli:root", Action: "import", Fingerprint: fprA, Detail: "alice@example.test"},
		{At: at(1), Actor: "harvest", Action: "harvest", Fingerprint: fprB, Detail: ""},
		{At: at(3), Actor: "cli:root", Action: "revoke", Fingerprint: fprA, Detail: "key compromised ✓"},
	}
	pending := []keys.PendingChange{
		{At: at(5), Address: "alice@example.test", Scheme: keys.SchemePGP, OldFingerprint: fprA, NewFingerprint: fprB, Source: keys.SourceAutocrypt},
		{At: at(4), Address: "bob@example.test", Scheme: keys.SchemeSMIME, OldFingerprint: fprC, NewFingerprint: fprD, Source: keys.SourceSMIME},
	}
	for i := range audit {
		err := b.Update(context.Background(), func(tx keys.Tx) error {
			if err := tx.AppendAudit(audit[i]); err != nil {
				return err
			}
			if i < len(pending) {
				return tx.AddPending(pending[i])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	b.View(context.Background(), func(tx keys.Tx) error {
		got, err := tx.Audit()
		if err != nil || !reflect.DeepEqual(got, audit) {
			t.Errorf("Audit() = %+v, %v\nwant %+v", got, err, audit)
		}
		gotP, err := tx.Pending()
		if err != nil || len(gotP) != len(pending) {
			t.Fatalf("Pending() = %+v, %v", gotP, err)
		}
		for i, p := range gotP {
			if i > 0 && p.ID <= gotP[i-1].ID {
				t.Errorf("pending ids not increasing: %d after %d", p.ID, gotP[i-1].ID)
			}
			want := pending[i]
			want.ID = p.ID
			if !reflect.DeepEqual(p, want) {
				t.Errorf("pending %d = %+v, want %+v", i, p, want)
			}
		}
		return nil
	})
}

// testSharedStorage: a second backend on the same storage (another process or node) sees
// the first one's commits, and its change counter, if it has one, moves with them.
func testSharedStorage(t *testing.T, o Opener) {
	b1, b2 := open(t, o), open(t, o)
	ctx := context.Background()
	vb, versioned := b2.(keys.Versioned)
	var before int64
	if versioned {
		var err error
		if before, err = vb.Version(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := record(fprA, keys.SchemePGP, 1, "alice@example.test")
	r.Sealed, r.Secret = []byte("sealed by the master key"), true
	put(t, b1, r)
	got, err := get(t, b2, fprA)
	if err != nil || !bytes.Equal(got.Sealed, r.Sealed) {
		t.Fatalf("the other backend reads %+v, %v", got, err)
	}
	if !versioned {
		return
	}
	after, err := vb.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatalf("the change counter did not move on another backend's commit (%d)", after)
	}
	// Reads and failed updates are not changes.
	b1.View(ctx, func(tx keys.Tx) error { _, err := tx.Get(fprA); return err })
	b1.Update(ctx, func(tx keys.Tx) error { return errors.New("rolled back") })
	if again, err := vb.Version(ctx); err != nil || again != after {
		t.Errorf("the change counter moved without a commit: %d -> %d (%v)", after, again, err)
	}
}

// testUpdatesSerialized: Updates on several backends over the same storage run one at a time,
// so a read-modify-write inside Update never loses another's write.
func testUpdatesSerialized(t *testing.T, o Opener) {
	backends := []keys.Backend{open(t, o), open(t, o)}
	const perBackend = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*perBackend)
	for _, b := range backends {
		for range perBackend {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- b.Update(context.Background(), func(tx keys.Tx) error {
					a, err := tx.Audit()
					if err != nil {
						return err
					}
					return tx.AppendAudit(keys.AuditEntry{At: at(1), Actor: "test", Action: "count", Detail: fmt.Sprint(len(a))})
				})
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var details []string
	backends[0].View(context.Background(), func(tx keys.Tx) error {
		a, err := tx.Audit()
		for _, e := range a {
			details = append(details, e.Detail)
		}
		return err
	})
	sort.Strings(details)
	want := make([]string, 2*perBackend)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	sort.Strings(want)
	if !reflect.DeepEqual(details, want) {
		t.Errorf("concurrent read-modify-write Updates interleaved: counts %v", details)
	}
}
