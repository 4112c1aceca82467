package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// nodeFile holds this node's name among the nodes sharing a database.
const nodeFile = "node-name"

// errNodeBusy: another server runs on this data directory.
var errNodeBusy = errors.New("another sealgate serve runs on this data directory (it holds DIR/" + nodeFile + ")")

// claimNode returns the name of the node whose data directory is dir — made on first start
// as the host name and a random suffix, then kept in DIR/node-name — and holds an exclusive
// lock on that file until the returned file is closed. The outbound queue's leases belong to
// this name, so a node restarted after a crash takes back at once the entries it was
// delivering when it died, instead of waiting for their leases to expire; the lock keeps two
// servers from running under one name. Each node needs its own data directory: a copied
// one would carry the name of the node it was copied from.
func claimNode(dir string) (string, *os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, nodeFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return "", nil, errNodeBusy
		}
		return "", nil, fmt.Errorf("locking %s: %w", nodeFile, err)
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return "", nil, err
	}
	name := strings.TrimSpace(string(raw))
	if name != "" {
		return name, f, nil
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, host)
	if host == "" {
		host = "node"
	}
	var b [4]byte
	rand.Read(b[:])
	name = host + "-" + hex.EncodeToString(b[:])
	if _, err := f.WriteString(name + "\n"); err != nil {
		f.Close()
		return "", nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", nil, err
	}
	return name, f, nil
}

// closeNode releases the lock claimNode took; nil is no lock.
func closeNode(f *os.File) {
	if f != nil {
		f.Close()
	}
}
