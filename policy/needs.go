package policy

// KeyNeed says which of one party's keys a decision can use. A caller looks up only these
// before Decide: anything else costs a keyring read (and, for remote recipients, a Web Key
// Directory request) that cannot change the decision.
type KeyNeed struct {
	// Decrypt: the party's secret keys of this scheme (the message is encrypted with it and
	// the policy may decrypt it). None: no secret keys for decryption.
	Decrypt Scheme
	// Encrypt: the party's public keys and certificates (a policy may encrypt to it).
	Encrypt bool
	// Sign: the party's signing keys (its policy may sign).
	Sign bool
	// Discover: a remote recipient's key may be worth finding outside the keyring (Web Key
	// Directory) before the keys are looked up: outbound encryption may happen.
	Discover bool
}

// Needs says which keys Decide can use for in; in's SenderKeys and RecipientKeys are not read.
// It is the rule Decide follows, stated from the other end, so that a new rule in Decide
// changes what is looked up here and nowhere else.
//
// The sender's part depends only on Sender, Submitted, Arrival and Settings: a caller may
// compute it once per message.
func Needs(in Input) (sender, recipient KeyNeed) {
	get := func(sc Scope, key string) string { return in.Settings.Get(sc, key).Value }
	plain := in.Arrival.Encrypted == None && in.Arrival.Signed == None
	// out.sign: only an address has keys; mail the client protected passes through.
	sender.Sign = in.Submitted && in.Sender.Kind == Address && plain && get(in.Sender, "outbound.sign") != "none"

	if in.Direction == Outbound {
		// out.encrypt: the stricter of the sender's and the recipient's setting; mail that
		// arrived encrypted is never encrypted again.
		mode, _ := strictest(in.Settings.Get(in.Sender, "outbound.encrypt"), in.Settings.Get(in.Recipient, "outbound.encrypt"))
		recipient.Encrypt = in.Arrival.Encrypted == None && mode != "never"
		recipient.Discover = recipient.Encrypt
		return sender, recipient
	}
	// in.decrypt and in.encrypt.
	if in.Arrival.Encrypted != None && get(in.Recipient, "inbound.decrypt") == "true" {
		recipient.Decrypt = in.Arrival.Encrypted
	}
	recipient.Encrypt = get(in.Recipient, "inbound.encrypt") != "none"
	return sender, recipient
}
