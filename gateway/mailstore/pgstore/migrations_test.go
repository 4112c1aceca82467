package pgstore

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestMigrationsUnchanged: a released migration is never changed, also not by the builders
// its triggers are written with (triggers.go); a database that applied it has exactly this
// text behind it. A migration adds its digest here when it is released.
func TestMigrationsUnchanged(t *testing.T) {
	released := []string{
		"6c384f62184e6aa9de543aa8c7f257cb5f7a5d7b14512318d1cd11e96ed92a2d",
		"73caa9c5d23b61a3c61068d73a333684211a4e1fa2b04d0f1a2b60b6a36ddb47",
		"acca946ad52c7a554a85517a2fedfe15369fc4b1c925baea93ee08d65052853d",
		"5f3a2ee0d6e3e8ecbdf912ceea6dfaf18c5cf1ac092f7665b5c1098a3e3e5427",
		"f5e8dd04d6788525c99242a283c63e3a722f40347403e883fc5f1f5e10d767dc",
		"6c94fa2e3fe4241fec425f956afd5e7be142f30b4220696d871be6a640db7e99",
		"ec2078a97728f38ff66e263869fdb6f97bbba61e9b10b30509c5b75fe7ca6e7f",
		"a44519e412604ddbc838f3ddc046dc20162290eb1eed59797f756f3b44a96175",
	}
	if len(migrations) < len(released) {
		t.Fatalf("%d migrations, %d released", len(migrations), len(released))
	}
	for i, want := range released {
		sum := sha256.Sum256([]byte(migrations[i]))
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("migration %d (schema version %d) changed: sha256 %s, released %s", i, i+1, got, want)
		}
	}
}
