package sortthread

import (
	"fmt"
	"strconv"
	"strings"
)

// PartialRange is a RFC 9394 PARTIAL range: positions First to Last (1-based, First <=
// Last) of a result, counted from its start, or from its end when FromEnd is set (-1 is the
// last message).
type PartialRange struct {
	First, Last uint32
	FromEnd     bool
}

// ParsePartialRange parses "4:2", "2:4" or "-1:-10". A single number, "*", zero, or a
// range mixing signs is an error wrapping ErrSyntax.
func ParsePartialRange(s string) (PartialRange, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return PartialRange{}, fmt.Errorf("%w: PARTIAL range %q is not first:last", ErrSyntax, s)
	}
	na, nega, err := partialNumber(a)
	if err != nil {
		return PartialRange{}, err
	}
	nb, negb, err := partialNumber(b)
	if err != nil {
		return PartialRange{}, err
	}
	if nega != negb {
		return PartialRange{}, fmt.Errorf("%w: PARTIAL range %q mixes signs", ErrSyntax, s)
	}
	return PartialRange{First: min(na, nb), Last: max(na, nb), FromEnd: nega}, nil
}

func partialNumber(s string) (uint32, bool, error) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || digits[0] < '1' || digits[0] > '9' {
		return 0, false, fmt.Errorf("%w: PARTIAL range number %q", ErrSyntax, s)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, false, fmt.Errorf("%w: PARTIAL range number %q", ErrSyntax, s)
	}
	return uint32(n), neg, nil
}

// String is the range as a response echoes it: "2:4", "-1:-10".
func (r PartialRange) String() string {
	if r.FromEnd {
		return fmt.Sprintf("-%d:-%d", r.First, r.Last)
	}
	return fmt.Sprintf("%d:%d", r.First, r.Last)
}

// Select returns the part of result the range covers, in result order.
func (r PartialRange) Select(result []uint32) []uint32 {
	n := uint64(len(result))
	lo, hi := uint64(r.First), uint64(r.Last)
	if lo > n {
		return nil
	}
	hi = min(hi, n)
	if r.FromEnd {
		return result[n-hi : n-lo+1]
	}
	return result[lo-1 : hi]
}

// Return is the RETURN options of an extended SEARCH or SORT (RFC 4731, RFC 5267, RFC 9394).
type Return struct {
	Min, Max, Count, All bool
	// Save is SEARCHRES (RFC 5182): the caller keeps the result as "$".
	Save    bool
	Partial *PartialRange
}

// ParseReturn parses the items inside RETURN ( ... ), for example []string{"MIN", "COUNT"}
// or []string{"PARTIAL", "1:10"}. An empty list means ALL (RFC 4731); ALL with PARTIAL is
// an error.
func ParseReturn(items []string) (Return, error) {
	var r Return
	if len(items) == 0 {
		r.All = true
		return r, nil
	}
	for i := 0; i < len(items); i++ {
		switch strings.ToUpper(items[i]) {
		case "MIN":
			r.Min = true
		case "MAX":
			r.Max = true
		case "COUNT":
			r.Count = true
		case "ALL":
			r.All = true
		case "SAVE":
			r.Save = true
		case "PARTIAL":
			if r.Partial != nil || i+1 == len(items) {
				return Return{}, fmt.Errorf("%w: PARTIAL needs one range", ErrSyntax)
			}
			i++
			pr, err := ParsePartialRange(items[i])
			if err != nil {
				return Return{}, err
			}
			r.Partial = &pr
		default:
			return Return{}, fmt.Errorf("%w: unknown RETURN option %q", ErrSyntax, items[i])
		}
	}
	if r.All && r.Partial != nil {
		// Both ask for the result's numbers; Dovecot refuses the pair the same way.
		return Return{}, fmt.Errorf("%w: PARTIAL conflicts with ALL", ErrSyntax)
	}
	return r, nil
}

// AppendData appends the ESEARCH return data for a result, each item preceded by a space,
// in Dovecot's order: " MIN 1 MAX 5 ALL 1:5 PARTIAL (2:4 2:4) COUNT 5". For SORT the result is in sort order
// and MIN and MAX are its first and last message (RFC 5267); for SEARCH it is ascending.
// MIN, MAX and ALL are left out for an empty result, as RFC 4731 says.
func (r Return) AppendData(dst []byte, result []uint32) []byte {
	if r.Min && len(result) > 0 {
		dst = append(dst, " MIN "...)
		dst = strconv.AppendUint(dst, uint64(result[0]), 10)
	}
	if r.Max && len(result) > 0 {
		dst = append(dst, " MAX "...)
		dst = strconv.AppendUint(dst, uint64(result[len(result)-1]), 10)
	}
	if r.All && len(result) > 0 {
		dst = append(dst, " ALL "...)
		dst = AppendNumSet(dst, result)
	}
	if r.Partial != nil {
		dst = append(dst, " PARTIAL ("...)
		dst = append(dst, r.Partial.String()...)
		dst = append(dst, ' ')
		if part := r.Partial.Select(result); len(part) > 0 {
			dst = AppendNumSet(dst, part)
		} else {
			dst = append(dst, "NIL"...)
		}
		dst = append(dst, ')')
	}
	if r.Count {
		dst = append(dst, " COUNT "...)
		dst = strconv.AppendUint(dst, uint64(len(result)), 10)
	}
	return dst
}

// AppendNumSet appends nums as a sequence-set that keeps their order: runs of consecutive
// ascending numbers become ranges ("3:4,2,1"), nothing is reordered.
func AppendNumSet(dst []byte, nums []uint32) []byte {
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(nums[i]), 10)
		if j > i {
			dst = append(dst, ':')
			dst = strconv.AppendUint(dst, uint64(nums[j]), 10)
		}
		i = j + 1
	}
	return dst
}
