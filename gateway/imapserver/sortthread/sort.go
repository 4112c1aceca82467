package sortthread

import (
	"fmt"
	"slices"
	"strings"
)

// Key is a SORT criterion's key (RFC 5256 section 3, RFC 5957).
type Key int

const (
	KeyArrival Key = iota
	KeyCc
	KeyDate
	KeyFrom
	KeySize
	KeySubject
	KeyTo
	KeyDisplayFrom
	KeyDisplayTo
)

var keyNames = [...]string{"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}

func (k Key) String() string {
	if k < 0 || int(k) >= len(keyNames) {
		return fmt.Sprintf("Key(%d)", int(k))
	}
	return keyNames[k]
}

// Criterion is one sort key, optionally reversed.
type Criterion struct {
	Key     Key
	Reverse bool
}

// ParseCriteria parses the items of a SORT criteria list as they arrive on the wire, for
// example []string{"REVERSE", "DATE", "SUBJECT"} (case does not matter). An empty list, an
// unknown key, a REVERSE that is doubled or not followed by a key is an error wrapping
// ErrSyntax.
func ParseCriteria(items []string) ([]Criterion, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: empty sort criteria", ErrSyntax)
	}
	out := make([]Criterion, 0, len(items))
	reverse := false
	for _, it := range items {
		if strings.EqualFold(it, "REVERSE") {
			if reverse {
				return nil, fmt.Errorf("%w: REVERSE REVERSE in sort criteria", ErrSyntax)
			}
			reverse = true
			continue
		}
		k := -1
		for i, name := range keyNames {
			if strings.EqualFold(it, name) {
				k = i
				break
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("%w: unknown sort criterion %q", ErrSyntax, it)
		}
		out = append(out, Criterion{Key: Key(k), Reverse: reverse})
		reverse = false
	}
	if reverse {
		return nil, fmt.Errorf("%w: REVERSE without a sort key", ErrSyntax)
	}
	return out, nil
}

// column holds one criterion's key for every message: ints for dates and sizes, strings
// (already case-mapped) for the others.
type column struct {
	reverse bool
	ints    []int64
	strs    []string
}

// Sort orders msgs by the criteria and returns their numbers of the given kind, first to
// last. Messages equal under every criterion keep sequence-number order (RFC 5256 section
// 3). msgs is not modified.
func Sort(msgs []Message, criteria []Criterion, kind NumKind) []uint32 {
	cols := make([]column, len(criteria))
	for ci, c := range criteria {
		cols[ci] = sortColumn(msgs, c)
	}
	idx := indexes(len(msgs))
	slices.SortFunc(idx, func(a, b int32) int {
		for ci := range cols {
			col := &cols[ci]
			var r int
			if col.ints != nil {
				r = cmpInt(col.ints[a], col.ints[b])
			} else {
				r = strings.Compare(col.strs[a], col.strs[b])
			}
			if r != 0 {
				if col.reverse {
					return -r
				}
				return r
			}
		}
		return cmpInt(int64(msgs[a].Seq), int64(msgs[b].Seq))
	})
	out := make([]uint32, len(idx))
	for i, j := range idx {
		out[i] = kind.Of(&msgs[j])
	}
	return out
}

func sortColumn(msgs []Message, c Criterion) column {
	col := column{reverse: c.Reverse}
	switch c.Key {
	case KeyArrival, KeyDate, KeySize:
		col.ints = make([]int64, len(msgs))
		for i := range msgs {
			m := &msgs[i]
			switch c.Key {
			case KeyArrival:
				col.ints[i] = m.InternalDate.Unix()
			case KeyDate:
				col.ints[i] = m.SentDate().Unix()
			default:
				col.ints[i] = m.Size
			}
		}
	default:
		col.strs = make([]string, len(msgs))
		for i := range msgs {
			col.strs[i] = stringKey(&msgs[i], c.Key)
		}
	}
	return col
}

// stringKey is the case-mapped string a message sorts by under k.
func stringKey(m *Message, k Key) string {
	switch k {
	case KeySubject:
		key, _ := subjectKey(m.Subject)
		return key
	case KeyFrom:
		return casemap(m.From.Mailbox, MaxKeyBytes)
	case KeyTo:
		return casemap(m.To.Mailbox, MaxKeyBytes)
	case KeyCc:
		return casemap(m.Cc.Mailbox, MaxKeyBytes)
	case KeyDisplayFrom:
		return casemap(m.From.Display(), MaxKeyBytes)
	case KeyDisplayTo:
		return casemap(m.To.Display(), MaxKeyBytes)
	}
	return ""
}

// indexes is 0 to n-1, the slice sorts permute instead of the messages.
func indexes(n int) []int32 {
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	return idx
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
