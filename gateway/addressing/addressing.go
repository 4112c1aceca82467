// Package addressing turns a recipient address in a local domain into the places the mail
// goes: accounts (with the folder a sub-address names), the members of aliases, addresses in
// other domains that an alias forwards to, the administrator for postmaster@ and abuse@, a
// domain's catch-all, and the original sender of a bounce to an SRS address.
//
// Resolution, in order, for local-part@domain:
//  1. SRS0=...@domain: a bounce to mail this gateway forwarded; the hash and age are checked and
//     the original sender is the target (so bounces find their way back).
//  2. an alias for the address, then for its base (user+tag → user): its targets, expanded in
//     turn (a target naming the alias itself means the account of that name);
//  3. the account of the address itself, else the account of its base address, into the
//     folder named by the tag when the account has one (user+lists@ → folder "lists"), else
//     INBOX;
//  4. postmaster@ and abuse@ (RFC 5321 §4.5.1, RFC 2142): the administrator — the configured
//     address, else the account created first;
//  5. the domain's catch-all, an alias for "@domain";
//  6. otherwise ErrUnknown.
//
// Alias graphs are checked for loops when an alias is set (CheckLoops), and resolution stops
// at MaxDepth levels and MaxTargets targets anyway. Remote targets are only ever produced by
// an alias or an SRS address the gateway signed itself, never by the address a client gave:
// that keeps the MX listener from being an open relay.
//
// The sub-address rule (which separator, in which domains) is one address.Subaddressing value
// from the configuration. The Directory applies it here and hands consumers its result — each
// target carries its Base, the address whose account, policy scope and keys apply — and
// hands the same rule (Rule) to the parts that read addresses it does not resolve: senders,
// and recipients in other domains.
package addressing

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/envelope"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Errors of Resolve and CheckLoops.
var (
	ErrUnknown = errors.New("addressing: no such recipient")
	ErrLoop    = errors.New("addressing: alias loop")
)

// Limits of one resolution.
const (
	MaxDepth   = 10
	MaxTargets = 1000
)

// Store is what resolution reads.
type Store interface {
	mailstore.Directory
}

// Target is where one copy goes.
type Target struct {
	Address address.Address
	// Base is Address without its sub-address tag (the account's address for an account
	// reached by a tag): the address whose policy scope and keys apply to this copy.
	Base    address.Address
	UserID  int64  // the local account; 0 for an address in another domain
	Mailbox string // the folder a sub-address names; "" is INBOX
	// Forwarded: an alias or an SRS bounce sends this copy to another domain.
	Forwarded bool
	// SRSBounce: the target is the original sender of mail we forwarded (keep the null sender).
	SRSBounce bool
	// Via is the local address that expanded to this target (for the SRS rewrite).
	Via address.Address
}

// Options configure a Directory.
type Options struct {
	Store         Store
	IsLocalDomain func(domain string) bool
	// Subaddressing is the sub-address rule; the zero value turns sub-addresses off.
	Subaddressing address.Subaddressing
	// Postmaster is the administrator's address for postmaster@ and abuse@; "" means the
	// account created first.
	Postmaster string
	// SRS checks bounce addresses; nil refuses them.
	SRS *SRS
}

// Directory resolves recipients.
type Directory struct{ opts Options }

// New returns a Directory.
func New(opts Options) *Directory { return &Directory{opts: opts} }

// Rule returns the sub-address rule the Directory resolves with, for the parts that read
// addresses it does not resolve (senders, recipients in other domains).
func (d *Directory) Rule() address.Subaddressing { return d.opts.Subaddressing }

// Key is the alias table key of an address: the case-folded address, or "@domain" for a
// catch-all.
func Key(a address.Address) string { return a.Key() }

// CatchAllKey is the alias key of a domain's catch-all.
func CatchAllKey(domain string) string { return "@" + strings.ToLower(domain) }

// Resolve returns the targets of a recipient in a local domain.
func (d *Directory) Resolve(ctx context.Context, a address.Address) ([]Target, error) {
	r := &resolution{d: d, ctx: ctx, seenUser: map[int64]bool{}, seenRemote: map[string]bool{}}
	if err := r.resolve(a, a, 0, false); err != nil {
		return nil, err
	}
	if len(r.out) == 0 {
		return nil, ErrUnknown
	}
	return r.out, nil
}

type resolution struct {
	d          *Directory
	ctx        context.Context
	out        []Target
	seenUser   map[int64]bool
	seenRemote map[string]bool
}

func (r *resolution) add(t Target) error {
	if t.UserID != 0 {
		if r.seenUser[t.UserID] {
			return nil
		}
		r.seenUser[t.UserID] = true
	} else {
		k := t.Address.Key()
		if r.seenRemote[k] {
			return nil
		}
		r.seenRemote[k] = true
	}
	if len(r.out) >= MaxTargets {
		return fmt.Errorf("%w: more than %d targets", ErrLoop, MaxTargets)
	}
	r.out = append(r.out, t)
	return nil
}

// resolve expands one address. accountOnly: the address is an alias's reference to itself,
// meaning its account.
func (r *resolution) resolve(a, via address.Address, depth int, accountOnly bool) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: deeper than %d", ErrLoop, MaxDepth)
	}
	d := r.d
	if !d.opts.IsLocalDomain(a.Domain) {
		return r.add(Target{Address: a, Base: d.opts.Subaddressing.Base(a), Forwarded: true, Via: via})
	}
	if !accountOnly && strings.HasPrefix(strings.ToLower(a.Local), "srs0=") {
		if d.opts.SRS == nil {
			return ErrUnknown
		}
		orig, err := d.opts.SRS.Reverse(a)
		if err != nil {
			return ErrUnknown
		}
		return r.add(Target{Address: orig, Base: orig, Forwarded: true, SRSBounce: true, Via: a})
	}
	base, tag := d.opts.Subaddressing.Split(a)
	if !accountOnly {
		for _, k := range uniq(a.Key(), base.Key()) {
			al, err := d.opts.Store.AliasByKey(r.ctx, k)
			if errors.Is(err, mailstore.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			return r.expand(al, k, a, depth)
		}
	}
	u, err := d.opts.Store.UserByAddress(r.ctx, a)
	if errors.Is(err, mailstore.ErrNotFound) && tag != "" {
		u, err = d.opts.Store.UserByAddress(r.ctx, base) // jean-pierre@ may be an account of its own
	} else {
		base, tag = a, ""
	}
	switch {
	case err == nil:
		t := Target{Address: a, Base: base, UserID: u.ID}
		if tag != "" {
			if _, err := d.opts.Store.MailboxByName(r.ctx, u.ID, tag); err == nil {
				t.Mailbox = tag
			}
		}
		return r.add(t)
	case !errors.Is(err, mailstore.ErrNotFound):
		return err
	}
	if accountOnly {
		return ErrUnknown
	}
	switch strings.ToLower(base.Local) {
	case "postmaster", "abuse":
		return r.admin(a, depth)
	}
	al, err := d.opts.Store.AliasByKey(r.ctx, CatchAllKey(a.Domain))
	if err == nil {
		return r.expand(al, CatchAllKey(a.Domain), a, depth)
	}
	if !errors.Is(err, mailstore.ErrNotFound) {
		return err
	}
	return ErrUnknown
}

func (r *resolution) expand(al mailstore.Alias, key string, via address.Address, depth int) error {
	for _, t := range al.Targets {
		ta, err := address.Parse(strings.TrimSpace(t))
		if err != nil {
			continue // validated when set; skip what no longer parses
		}
		self := ta.Key() == key
		if err := r.resolve(ta, via, depth+1, self); err != nil && !(errors.Is(err, ErrUnknown) && len(al.Targets) > 1) {
			return err
		}
	}
	return nil
}

// admin delivers postmaster@ and abuse@ to the administrator.
func (r *resolution) admin(a address.Address, depth int) error {
	d := r.d
	if d.opts.Postmaster != "" {
		pa, err := address.Parse(d.opts.Postmaster)
		if err != nil {
			return fmt.Errorf("addressing: postmaster address %q: %w", d.opts.Postmaster, err)
		}
		if pa.Key() != a.Key() {
			return r.resolve(pa, a, depth+1, false)
		}
	}
	u, err := d.opts.Store.FirstUser(r.ctx)
	if err != nil {
		return err
	}
	ua, _ := address.Parse(u.Address)
	return r.add(Target{Address: ua, Base: ua, UserID: u.ID, Via: a})
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// CheckTargets refuses alias targets in a local domain that deliver nowhere: no account,
// alias, postmaster@/abuse@ or catch-all takes them (an alias to nobody@ would accept mail
// that can only bounce). A target equal to the alias (key) means the account of that name,
// so it must be one. Targets in other domains are not checked. Loops are CheckLoops' part.
func (d *Directory) CheckTargets(ctx context.Context, key string, targets []address.Address) error {
	for _, t := range targets {
		if !d.opts.IsLocalDomain(t.Domain) {
			continue
		}
		r := &resolution{d: d, ctx: ctx, seenUser: map[int64]bool{}, seenRemote: map[string]bool{}}
		err := r.resolve(t, t, 0, t.Key() == key)
		if err == nil && len(r.out) == 0 {
			err = ErrUnknown
		}
		if errors.Is(err, ErrUnknown) {
			if t.Key() == key {
				return fmt.Errorf("%w: %s names the alias itself but is no account", ErrUnknown, t)
			}
			return fmt.Errorf("%w: %s is no account, alias or other address that takes mail here", ErrUnknown, t)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckLoops refuses alias sets in which an alias reaches itself through other aliases. A
// target naming the alias itself is not a loop: it means the account of that name.
func CheckLoops(all map[string]mailstore.Alias) error {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(k string, path []string) error
	visit = func(k string, path []string) error {
		color[k] = grey
		for _, t := range all[k].Targets {
			ta, err := address.Parse(strings.TrimSpace(t))
			if err != nil {
				continue
			}
			tk := ta.Key()
			if tk == k {
				continue
			}
			if _, isAlias := all[tk]; !isAlias {
				continue
			}
			switch color[tk] {
			case grey:
				return fmt.Errorf("%w: %s", ErrLoop, strings.Join(append(path, k, tk), " → "))
			case white:
				if err := visit(tk, append(path, k)); err != nil {
					return err
				}
			}
		}
		color[k] = black
		return nil
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if color[k] == white {
			if err := visit(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Recipients resolves a recipient in a local domain into pipeline recipients for a message
// from mailFrom: a copy an alias forwards to another domain gets the SRS envelope sender of
// the forwarding domain (the null sender stays null, and a bounce going back keeps it).
func (d *Directory) Recipients(ctx context.Context, a address.Address, mailFrom string) ([]envelope.Recipient, error) {
	targets, err := d.Resolve(ctx, a)
	if err != nil {
		return nil, err
	}
	out := make([]envelope.Recipient, 0, len(targets))
	for _, t := range targets {
		r := envelope.Recipient{Address: t.Address, Base: t.Base, UserID: t.UserID, Mailbox: t.Mailbox}
		if t.Forwarded {
			f := &envelope.Forward{Sender: mailFrom, Domain: t.Via.Domain}
			switch {
			case t.SRSBounce:
				f.Sender = ""
			case d.opts.SRS != nil:
				f.Sender = d.opts.SRS.Forward(mailFrom, t.Via.Domain)
			}
			r.Forward = f
		}
		out = append(out, r)
	}
	return out, nil
}
