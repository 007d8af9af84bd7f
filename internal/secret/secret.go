// Package secret encrypts device credentials at rest with AES-256-GCM and
// keeps plain secrets out of logs and JSON.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// String is a plain-text secret in memory. It prints and marshals as a
// redaction mark so it cannot leak through logs or API answers.
type String string

const redacted = "********"

// String redacts.
func (String) String() string { return redacted }

// GoString redacts in %#v.
func (String) GoString() string { return redacted }

// LogValue redacts in slog.
func (String) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON redacts in JSON.
func (String) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Reveal gives the plain text to the code that must send it to a device.
func (s String) Reveal() string { return string(s) }

// Box seals and opens secrets with one key.
type Box struct{ aead cipher.AEAD }

const prefix = "v1:"

// NewBox makes a Box from a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, errors.New("secret key must be 32 bytes")
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// LoadOrCreateKey reads a base64 key (inline wins) or the key file, creating
// the file with a fresh random key (mode 0600) when it does not exist.
func LoadOrCreateKey(inline, file string) ([]byte, error) {
	if inline != "" {
		return base64.StdEncoding.DecodeString(inline)
	}
	b, err := os.ReadFile(file)
	if err == nil {
		k, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(k) != 32 {
			return nil, fmt.Errorf("secret key file %s: not 32 bytes of base64", file)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("create secret key dir: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another replica won the race
			return LoadOrCreateKey("", file)
		}
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	return k, f.Sync()
}

// Seal encrypts s; the empty secret stays empty.
func (b *Box) Seal(s String) (string, error) {
	if s == "" {
		return "", nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := b.aead.Seal(nonce, nonce, []byte(s), nil)
	return prefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts what Seal produced.
func (b *Box) Open(sealed string) (String, error) {
	if sealed == "" {
		return "", nil
	}
	if !strings.HasPrefix(sealed, prefix) {
		return "", errors.New("sealed secret has an unknown format")
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(prefix):])
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", errors.New("sealed secret is corrupt")
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", errors.New("sealed secret does not open with this key")
	}
	return String(pt), nil
}
