package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := LoadOrCreateKey("", filepath.Join(t.TempDir(), "k", "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBox(k)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal("community-42")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, "community-42") {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := b.Seal("community-42")
	if again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	got, err := b.Open(sealed)
	if err != nil || got.Reveal() != "community-42" {
		t.Fatalf("Open = %q, %v", got.Reveal(), err)
	}
	if s, _ := b.Seal(""); s != "" {
		t.Fatalf("empty secret sealed to %q", s)
	}
	other, _ := NewBox(bytes.Repeat([]byte{7}, 32))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("a wrong key opened the secret")
	}
	for _, bad := range []string{"v2:abc", "v1:!!!", "v1:AAAA"} {
		if _, err := b.Open(bad); err == nil {
			t.Fatalf("Open(%q) succeeded", bad)
		}
	}
}

func TestKeyFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "secret.key")
	k1, err := LoadOrCreateKey("", f)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(f)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	k2, err := LoadOrCreateKey("", f)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the key file did not give the same key back")
	}
	if err := os.WriteFile(f, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey("", f); err == nil {
		t.Fatal("a corrupt key file was accepted")
	}
	if _, err := NewBox([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestRedaction(t *testing.T) {
	s := String("hunter2")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "password", s)
	js, _ := json.Marshal(struct{ P String }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s), buf.String(), string(js)} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the secret")
	}
}
