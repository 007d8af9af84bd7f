package tftpd

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCleanName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"pxelinux.0", "pxelinux.0"},
		{"efi/grubx64.efi", "efi/grubx64.efi"},
		{`boot\x64\wdsnbp.com`, "boot/x64/wdsnbp.com"},
		{"a/./b//c", "a/b/c"},
		{"a/../b", "b"},
		{"", ""},
		{"/etc/passwd", ""},
		{`\etc\passwd`, ""},
		{"../../etc/passwd", ""},
		{"..", ""},
		{`..\x`, ""},
		{`..\\x`, ""},
		{"a/../../x", ""},
		{".", ""},
		{"a\x00b", ""},
	} {
		got, err := cleanName(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("cleanName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// traversalRig is a root next to a secret, with links in and out.
func traversalRig(t *testing.T) (root, secret string) {
	dir := t.TempDir()
	root = filepath.Join(dir, "root")
	secret = filepath.Join(dir, "secret")
	writeRandom(t, root, "sub/ok.bin", 700)
	if err := os.WriteFile(secret, []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"escape":       "../secret",
		"sub/deep":     "../../secret",
		"abs":          secret,
		"absinside":    filepath.Join(root, "sub/ok.bin"), // os.Root refuses absolute links
		"inside":       "sub/ok.bin",
		"sub/dirlink":  "..",
		"sub/rootlink": "/",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, secret
}

func TestTraversalRefused(t *testing.T) {
	root, secret := traversalRig(t)
	s := startServer(t, Options{Roots: []string{root}})
	for _, name := range []string{
		"../../etc/passwd", "/etc/passwd", `..\x`, `..\\x`, `..\secret`, "../secret",
		"escape", "sub/deep", "abs", "absinside", "sub/dirlink/secret", "sub/rootlink/etc/passwd",
		secret, "sub", ".", "fifo", "missing", "sub/../../secret",
	} {
		t.Run(strings.ReplaceAll(name, "/", "|"), func(t *testing.T) {
			before := s.Stats().BytesSent
			p := newRawClient(t, s).request(rrq(name, "octet"))
			if p.op != 5 || p.block != 1 || string(p.body) != "file not found" {
				t.Fatalf("reply %v, want ERROR 1: file not found", p)
			}
			if got := s.Stats().BytesSent; got != before {
				t.Errorf("%d bytes read for a refused request", got-before)
			}
		})
	}
	// Links that stay inside are followed.
	for _, name := range []string{"inside", "sub/ok.bin"} {
		if got := newRawClient(t, s).fetch(name); len(got) != 700 {
			t.Errorf("%s: got %d bytes, want 700", name, len(got))
		}
	}
	st := s.Stats()
	t.Logf("refusals %+v", st.Refused)
	if st.Refused.Forbidden < 5 || st.Refused.NotFound < 3 {
		t.Errorf("refusals %+v: want the traversals counted as forbidden and the rest as not found", st.Refused)
	}

	t.Run("peers", func(t *testing.T) {
		out := t.TempDir()
		for _, name := range []string{"../../etc/passwd", "/etc/passwd", `..\x`, "escape"} {
			local := filepath.Join(out, "x")
			o, err := atftpGet(t, s, name, local)
			if err == nil || !strings.Contains(o, "file not found") {
				t.Errorf("atftp get %q: %v %s; want a refusal", name, err, o)
			}
			if b, _ := os.ReadFile(local); len(b) != 0 {
				t.Errorf("atftp get %q wrote %d bytes", name, len(b))
			}
			if o := hpaRun(t, s, "get", name, local); !strings.Contains(o, "Error code 1: file not found") {
				t.Errorf("tftp get %q: %s", name, o)
			}
		}
	})
}

func TestWriteRefused(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(t.TempDir(), "up.bin")
	os.WriteFile(src, []byte("payload"), 0o644)
	s := startServer(t, Options{Roots: []string{root}})
	if o := hpaRun(t, s, "put", src, "up.bin"); !strings.Contains(o, "read-only server") {
		t.Errorf("tftp put: %q, want a read-only refusal", o)
	}
	p := newRawClient(t, s).request(append([]byte{0, 2}, rrq("x.bin", "octet")[2:]...))
	if p.op != 5 || !strings.Contains(string(p.body), "read-only") {
		t.Errorf("WRQ reply %v, want ERROR", p)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("root has %d entries after refused writes", len(ents))
	}
	if got := s.Stats().Refused.Write; got != 2 {
		t.Errorf("write refusals %d, want 2", got)
	}
}

// hold starts a transfer and never acknowledges it: the server keeps it
// open until its retries run out or the client sends an ERROR.
type holder struct {
	*rawClient
	tid *net.UDPAddr // the transfer's port on the server
}

func hold(t *testing.T, s *Server, name string) holder {
	c := newRawClient(t, s)
	p := c.request(rrq(name, "octet"))
	if p.op != 3 {
		t.Fatalf("hold: reply %v, want DATA", p)
	}
	return holder{c, p.from}
}

// release ends a held transfer with an ERROR from the client.
func (h holder) release() { h.send(h.tid, errPacket("give up")) }

func waitIdle(t *testing.T, s *Server) {
	deadline := time.Now().Add(15 * time.Second)
	for s.Stats().InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("transfers still in flight: %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBusyOverCap(t *testing.T) {
	root := t.TempDir()
	want := writeRandom(t, root, "boot.bin", 4096)
	s := startServer(t, Options{Roots: []string{root}, MaxTransfers: 2, Timeout: 2 * time.Second})
	holders := []holder{hold(t, s, "boot.bin"), hold(t, s, "boot.bin")}
	if n := s.Stats().InFlight; n != 2 {
		t.Fatalf("in flight %d, want 2", n)
	}
	start := time.Now()
	p := newRawClient(t, s).request(rrq("boot.bin", "octet"))
	t.Logf("third request answered in %v", time.Since(start))
	if p.op != 5 || string(p.body) != "server busy" {
		t.Fatalf("reply %v, want ERROR server busy", p)
	}
	if o, err := atftpGet(t, s, "boot.bin", filepath.Join(t.TempDir(), "b")); err == nil || !strings.Contains(o, "server busy") {
		t.Errorf("atftp over the cap: %v %s", err, o)
	}
	for _, h := range holders {
		h.release()
	}
	waitIdle(t, s)
	local := filepath.Join(t.TempDir(), "b")
	if o, err := atftpGet(t, s, "boot.bin", local); err != nil {
		t.Fatalf("after the holders left: %v %s", err, o)
	}
	if b, _ := os.ReadFile(local); string(b) != string(want) {
		t.Error("content differs")
	}
	if st := s.Stats(); st.Refused.Busy != 2 {
		t.Errorf("busy refusals %d, want 2", st.Refused.Busy)
	}
}
