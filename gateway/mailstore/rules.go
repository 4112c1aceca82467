package mailstore

import "slices"

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
