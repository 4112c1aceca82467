package auth

import (
	"strings"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// SubaddressSeparator separates a user's address from a tag: user+tag@domain.
const SubaddressSeparator = "+"

// Owns reports whether the account may use addr as a sender: its own address, or a
// sub-address of it (user+tag@domain), compared case-insensitively.
func Owns(u mailstore.User, addr address.Address) bool {
	own, err := address.Parse(u.Address)
	if err != nil {
		return false
	}
	return strings.EqualFold(addr.Base(SubaddressSeparator).Key(), own.Key())
}
