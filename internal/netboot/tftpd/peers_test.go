package tftpd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// peerSizes are the file sizes fetched by the real clients: empty, around
// one 512-byte block, and a megabyte and a byte.
var peerSizes = []int{0, 511, 512, 513, 1<<20 + 1}

// atftpGet fetches name with atftp and extra options ("blksize 1468"),
// returning the combined output.
func atftpGet(t *testing.T, s *Server, name, local string, opts ...string) (string, error) {
	t.Helper()
	args := []string{"--tftp-timeout", "1"}
	for _, o := range opts {
		args = append(args, "--option", o)
	}
	args = append(args, "-g", "-r", name, "-l", local, "127.0.0.1", port(s))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, needTool(t, "atftp"), args...).CombinedOutput()
	return string(out), err
}

// hpaRun runs one tftp-hpa client command ("get", "x", "y"). The
// client exits 0 on a TFTP error, so callers read the output.
func hpaRun(t *testing.T, s *Server, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"-m", "binary", "127.0.0.1", port(s), "-c"}, cmd...)
	out, _ := exec.CommandContext(ctx, needTool(t, "tftp"), args...).CombinedOutput()
	return string(out)
}

func TestPeersFetchByteExact(t *testing.T) {
	needTool(t, "atftp")
	needTool(t, "tftp")
	root, out := t.TempDir(), t.TempDir()
	want := map[string][]byte{}
	for _, n := range peerSizes {
		name := fmt.Sprintf("f%d.bin", n)
		want[name] = writeRandom(t, root, name, n)
	}
	s := startServer(t, Options{Roots: []string{root}})
	check := func(t *testing.T, name, local string) {
		t.Helper()
		got, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[name]) {
			t.Fatalf("%s: got %d bytes, want %d (content differs)", name, len(got), len(want[name]))
		}
	}
	start := time.Now()
	for _, n := range peerSizes {
		name := fmt.Sprintf("f%d.bin", n)
		t.Run("tftp-hpa/512/"+name, func(t *testing.T) {
			local := filepath.Join(out, "hpa-"+name)
			if o := hpaRun(t, s, "get", name, local); strings.Contains(o, "Error") {
				t.Fatalf("tftp: %s", o)
			}
			check(t, name, local)
		})
		for _, bs := range []int{512, 1428, 1468, 8192, 65464} {
			t.Run(fmt.Sprintf("atftp/%d/%s", bs, name), func(t *testing.T) {
				local := filepath.Join(out, fmt.Sprintf("atftp-%d-%s", bs, name))
				if o, err := atftpGet(t, s, name, local, fmt.Sprintf("blksize %d", bs)); err != nil {
					t.Fatalf("atftp: %v: %s", err, o)
				}
				check(t, name, local)
			})
		}
	}
	st := s.Stats()
	t.Logf("%d transfers in %v, %d bytes", st.Completed, time.Since(start).Round(time.Millisecond), st.BytesSent)
	if st.Failed != 0 || st.Completed != st.Started {
		t.Errorf("stats %+v: want every started transfer completed", st)
	}
}

// TestPeersTsize checks the tsize option with atftp (its trace shows the
// OACK) and by hand, including a client that sends a bogus tsize.
func TestPeersTsize(t *testing.T) {
	root := t.TempDir()
	writeRandom(t, root, "kernel", 123457)
	s := startServer(t, Options{Roots: []string{root}})

	t.Run("atftp", func(t *testing.T) {
		o, err := atftpGet(t, s, "kernel", filepath.Join(t.TempDir(), "k"), "tsize 0", "blksize 1468", "timeout 3")
		if err != nil {
			t.Fatalf("atftp: %v: %s", err, o)
		}
		// atftp prints only what it asked for; its --trace shows the OACK.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tr, err := exec.CommandContext(ctx, "atftp", "--trace", "--option", "tsize 0", "--option", "blksize 1468",
			"-g", "-r", "kernel", "-l", filepath.Join(t.TempDir(), "k"), "127.0.0.1", port(s)).CombinedOutput()
		if err != nil {
			t.Fatalf("atftp --trace: %v", err)
		}
		m := regexp.MustCompile(`received OACK <([^>]*)>`).FindSubmatch(tr)
		if m == nil {
			t.Fatalf("no OACK in atftp trace:\n%s", firstLines(tr, 5))
		}
		if !strings.Contains(string(m[1]), "tsize: 123457") || !strings.Contains(string(m[1]), "blksize: 1468") {
			t.Errorf("OACK %q: want tsize 123457 and blksize 1468", m[1])
		}
	})
	for _, tc := range []struct{ sent, want string }{{"0", "123457"}, {"999", "123457"}, {"junk", "123457"}} {
		t.Run("raw/tsize="+tc.sent, func(t *testing.T) {
			c := newRawClient(t, s)
			p := c.request(rrq("kernel", "octet", "tsize", tc.sent, "timeout", "2", "windowsize", "8"))
			if p.op != 6 {
				t.Fatalf("reply %v, want OACK", p)
			}
			o := p.oack()
			if o["tsize"] != tc.want {
				t.Errorf("OACK %v: tsize %q, want %q", o, o["tsize"], tc.want)
			}
			// pin/tftp acknowledges neither timeout nor windowsize.
			if _, ok := o["timeout"]; ok {
				t.Errorf("OACK %v acknowledges timeout", o)
			}
			c.send(p.from, errPacket("done"))
		})
	}
}

func firstLines(b []byte, n int) string {
	l := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

// TestPeersWindow fetches with the library's windowed mode on, at the
// block sizes where the window is allowed.
func TestPeersWindow(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	want := writeRandom(t, root, "big.bin", 3<<20+17)
	s := startServer(t, Options{Roots: []string{root}, BlockSizeMax: 1468, Window: 8})
	if s.Window() != 8 {
		t.Fatalf("window %d, want 8", s.Window())
	}
	for _, bs := range []int{512, 1468, 8192} {
		t.Run(strconv.Itoa(bs), func(t *testing.T) {
			local := filepath.Join(out, strconv.Itoa(bs))
			if o, err := atftpGet(t, s, "big.bin", local, fmt.Sprintf("blksize %d", bs), "windowsize 16"); err != nil {
				t.Fatalf("atftp: %v: %s", err, o)
			}
			got, _ := os.ReadFile(local)
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d (content differs)", len(got), len(want))
			}
		})
	}
	if w := New(Options{Window: 8}).Window(); w != 1 {
		t.Errorf("window with 65464-byte blocks = %d, want 1 (a window would exceed 64 KiB)", w)
	}
	if w := New(Options{Window: 100, BlockSizeMax: 512 + 1}).Window(); w != 60 {
		t.Errorf("window 100 = %d, want the library's 60", w)
	}
}

// TestWindowLossStalls records why Window stays off by default: in
// pin/tftp v3.1.0's windowed mode one lost block stalls the transfer. The
// client below behaves like atftp and tftp-hpa: it acknowledges blocks in
// order, answers an out-of-order block by acknowledging the last good one
// again, and ignores duplicates. After the timeout the library resends
// the whole window and waits for an ACK of its first block, which such a
// client has already sent and does not repeat, so the transfer dies when
// the retries run out. Lock-step recovers from the same loss.
func TestWindowLossStalls(t *testing.T) {
	root := t.TempDir()
	writeRandom(t, root, "f.bin", 16*512+100)
	for _, tc := range []struct {
		window   int
		complete bool
	}{{1, true}, {4, false}} {
		t.Run("window="+strconv.Itoa(tc.window), func(t *testing.T) {
			s := startServer(t, Options{Roots: []string{root}, BlockSizeMax: 1468, Window: tc.window,
				Timeout: 100 * time.Millisecond, Retries: 3})
			c := newRawClient(t, s)
			c.send(nil, rrq("f.bin", "octet"))
			next, dropped, done := uint16(1), false, false
			for !done {
				p, ok := c.recv(2 * time.Second)
				if !ok || p.op != 3 {
					break // ERROR or silence: the server gave up
				}
				switch {
				case p.block == 3 && !dropped:
					dropped = true // lost on the way
				case p.block == next:
					c.send(p.from, ack(p.block))
					next++
					done = len(p.body) < 512
				case p.block > next:
					c.send(p.from, ack(next-1))
				}
			}
			if done != tc.complete {
				t.Errorf("completed %v, want %v (stats %+v)", done, tc.complete, s.Stats())
			}
		})
	}
}
