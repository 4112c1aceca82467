package pgpmime

import (
	"crypto"
	_ "crypto/sha256" // register
	_ "crypto/sha512" // register
)

const cryptoSHA256 = crypto.SHA256
