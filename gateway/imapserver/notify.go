package imapserver

import (
	"sync"

	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Notifier tells idling sessions that a user's mailboxes changed. One Notifier is shared by
// the gateway's IMAP servers and fed by the store's commit hook (Delivered), so IDLE reports
// mail delivered over SMTP at once. It only wakes sessions; what changed is read from the
// store, so a lost or extra wake-up costs nothing but a query.
type Notifier struct {
	mu   sync.Mutex
	subs map[int64]map[chan struct{}]struct{}
}

// NewNotifier returns a Notifier.
func NewNotifier() *Notifier {
	return &Notifier{subs: map[int64]map[chan struct{}]struct{}{}}
}

// Delivered is a mailstore.Options.OnCommit hook: it wakes the sessions of every user that
// received a message. It does not block.
func (n *Notifier) Delivered(d mailstore.Delivered) {
	for _, m := range d.Messages {
		n.Changed(m.UserID)
	}
}

// Changed wakes the sessions of a user.
func (n *Notifier) Changed(userID int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs[userID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// subscribe returns a channel that receives a value after a change for userID, and a
// function that ends the subscription.
func (n *Notifier) subscribe(userID int64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.subs[userID] == nil {
		n.subs[userID] = map[chan struct{}]struct{}{}
	}
	n.subs[userID][ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs[userID], ch)
		if len(n.subs[userID]) == 0 {
			delete(n.subs, userID)
		}
		n.mu.Unlock()
	}
}
