#!/usr/bin/env bash
# Regenerates the TEST-ONLY keys and certificates in this directory with GnuPG and OpenSSL.
# Nothing here may be used for anything real: the secret keys are published.
set -euo pipefail
cd "$(dirname "$0")"
export GNUPGHOME=$(mktemp -d /tmp/sgk.XXXXXX)
trap 'gpgconf --kill all; rm -rf "$GNUPGHOME"' EXIT
g() { gpg --batch --pinentry-mode loopback "$@"; }

# OpenPGP (GnuPG 2.2): RSA without passphrase, Ed25519 with passphrase "correct horse".
g --passphrase '' --quick-gen-key 'Test RSA <rsa@keys.test>' rsa3072 default never
g --passphrase 'correct horse' --quick-gen-key 'Test Ed <ed@keys.test>' ed25519 default never
g --passphrase '' --quick-gen-key 'No Address' ed25519 default never
g --passphrase '' --faked-system-time 20200101T000000 --quick-gen-key 'Old <old@keys.test>' ed25519 default 1y
fpr() { gpg --with-colons --list-keys "$1" | awk -F: '/^fpr/ {print $10; exit}'; }
g --passphrase '' --quick-add-key "$(fpr rsa@keys.test)" rsa3072 encr never
g --passphrase 'correct horse' --quick-add-key "$(fpr ed@keys.test)" cv25519 encr never
g --passphrase '' --quick-add-key "$(fpr 'No Address')" cv25519 encr never
g --passphrase '' --faked-system-time 20200101T000100 --quick-add-key "$(fpr old@keys.test)" cv25519 encr 1y
g --armor --export rsa@keys.test > gpg-rsa-pub.asc
g --passphrase '' --armor --export-secret-keys rsa@keys.test > gpg-rsa-secret.asc
g --armor --export ed@keys.test > gpg-ed-pub.asc
g --export ed@keys.test > gpg-ed-pub.gpg
g --passphrase 'correct horse' --armor --export-secret-keys ed@keys.test > gpg-ed-secret-pass.asc
g --passphrase 'correct horse' --export-secret-keys ed@keys.test > gpg-ed-secret-pass.gpg
g --armor --export 'No Address' > gpg-noaddress-pub.asc
g --armor --export old@keys.test > gpg-expired-pub.asc
printf 'correct horse\n' > passphrase.txt

# X.509 (OpenSSL 3): a CA, then RSA, ECDSA P-256 and Ed25519 end-entity certificates.
ee() { # section keyUsage: an end-entity certificate for mail protection, its address in it
  printf '[%s]\nbasicConstraints = CA:FALSE\nkeyUsage = %s\nextendedKeyUsage = emailProtection\n' "$1" "$2"
  printf 'subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\nsubjectAltName = email:copy\n'
}
{
  ee ee "digitalSignature, keyEncipherment"
  ee ecee "digitalSignature, keyAgreement"
  ee edee "digitalSignature"
  printf '[noemail]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = emailProtection\n'
} > ext.cnf
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 7300 \
  -subj "/O=Sealgate Keys Test/CN=Keys Test CA" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
issue() { # name keyopts ext email
  openssl genpkey $2 -out "$1-key.pem"
  openssl req -new -key "$1-key.pem" -out "$1.csr" -subj "/O=Sealgate Keys Test/CN=$1${4:+/emailAddress=$4}"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out "$1.pem" -days 3650 \
    -extfile ext.cnf -extensions "$3" 2>/dev/null
  rm "$1.csr"
}
issue rsa "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" ee rsa@keys.test
issue ec "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" ecee ec@keys.test
issue ed25519 "-algorithm ED25519" edee ed@keys.test
issue noemail "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" noemail ""
rm -f ca.srl
openssl x509 -in rsa.pem -outform DER -out rsa.der
printf 'p12 secret\n' > p12pass.txt
openssl pkcs12 -export -in rsa.pem -inkey rsa-key.pem -certfile ca.pem -passout file:p12pass.txt -out rsa.p12
openssl pkcs12 -export -in ec.pem -inkey ec-key.pem -passout file:p12pass.txt -out ec.p12
