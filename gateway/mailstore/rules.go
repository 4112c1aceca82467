package mailstore

import (
	"slices"
	"strings"
)

// CopyUIDs is the source set of a COPY or MOVE as every backend copies it: ascending, each
// UID once (a UID set that names a message twice still names one message). The copies get
// consecutive UIDs in this order, so CopyResult pairs Source[i] with Dest[i] (COPYUID), and
// they share one MODSEQ: the destination's HIGHESTMODSEQ after the copy.
func CopyUIDs(uids []uint32) []uint32 {
	out := slices.Clone(uids)
	slices.Sort(out)
	return slices.Compact(out)
}

// BouncedOnce is st.Bounced as every backend moves it to failed: each recipient once, so a
// list that names one twice settles it once rather than failing as "not bouncing".
func (st Settle) BouncedOnce() []string {
	out := slices.Clone(st.Bounced)
	slices.Sort(out)
	return slices.Compact(out)
}

// MailboxParents lists the superior levels of name, outermost first ("a/b/c": "a", "a/b"),
// leaving out skip: the mailboxes CREATE and RENAME make when missing (RFC 9051 §6.3.4,
// §6.3.6).
func MailboxParents(name, skip string) []string {
	levels := strings.Split(name, "/")
	var out []string
	for i := 1; i < len(levels); i++ {
		if p := strings.Join(levels[:i], "/"); p != skip {
			out = append(out, p)
		}
	}
	return out
}

// CheckRename returns the canonical names of a RENAME and refuses one no backend may do:
// ErrInvalidName for a new name ValidMailboxName refuses, ErrExists for INBOX as the new
// name, the same name, or a name below the old one.
func CheckRename(oldName, newName string) (string, string, error) {
	oldName, newName = canonicalName(oldName), canonicalName(newName)
	if !ValidMailboxName(newName) {
		return oldName, newName, ErrInvalidName
	}
	if newName == "INBOX" || oldName == newName || strings.HasPrefix(newName, oldName+"/") {
		return oldName, newName, ErrExists
	}
	return oldName, newName, nil
}
