package smime

import (
	"bytes"
	"crypto/x509"
	"io"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
)

func benchMessage() []byte {
	line := "The quick brown fox jumps over the lazy dog 0123456789 abcdefghij.\r\n"
	return []byte("From: rsa@sealgate.test\r\nSubject: bench\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat(line, 10<<10/len(line)))
}

func BenchmarkEncrypt10KiB(b *testing.B) {
	_, _, rsaP, ecP := fixtures(b)
	msg := benchMessage()
	for _, tc := range []struct {
		name string
		p    party
		c    Cipher
	}{{"RSA-AES256CBC", rsaP, AES256CBC}, {"RSA-AES256GCM", rsaP, AES256GCM}, {"EC-AES256CBC", ecP, AES256CBC}} {
		b.Run(tc.name, func(b *testing.B) {
			cryptotest.Throughput(b, int64(len(msg)), func() error {
				return Encrypt(io.Discard, bytes.NewReader(msg), EncryptOptions{Recipients: []*x509.Certificate{tc.p.cert}, Cipher: tc.c})
			})
		})
	}
}

func BenchmarkDecrypt10KiB(b *testing.B) {
	_, _, rsaP, ecP := fixtures(b)
	msg := benchMessage()
	for _, tc := range []struct {
		name string
		p    party
	}{{"RSA", rsaP}, {"EC", ecP}} {
		b.Run(tc.name, func(b *testing.B) {
			var ct bytes.Buffer
			Encrypt(&ct, bytes.NewReader(msg), EncryptOptions{Recipients: []*x509.Certificate{tc.p.cert}})
			cryptotest.Throughput(b, int64(len(msg)), func() error {
				_, err := Decrypt(io.Discard, bytes.NewReader(ct.Bytes()), tc.p.cert, tc.p.key, DecryptOptions{})
				return err
			})
		})
	}
}

func BenchmarkSignVerify10KiB(b *testing.B) {
	ca, _, rsaP, _ := fixtures(b)
	msg := benchMessage()
	var signed bytes.Buffer
	Sign(&signed, bytes.NewReader(msg), SignOptions{Cert: rsaP.cert, Key: rsaP.key})
	b.Run("Sign", func(b *testing.B) {
		cryptotest.Throughput(b, int64(len(msg)), func() error {
			return Sign(io.Discard, bytes.NewReader(msg), SignOptions{Cert: rsaP.cert, Key: rsaP.key})
		})
	})
	b.Run("Verify", func(b *testing.B) {
		cryptotest.Throughput(b, int64(len(msg)), func() error {
			_, err := Verify(nil, bytes.NewReader(signed.Bytes()), VerifyOptions{Roots: pool(ca)})
			return err
		})
	})
}
