package tftpd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool returns the path of a peer program, or skips the test (fails
// it on CI, where the harness installs the peers: make deps).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (scripts/test-deps.sh installs tftp-hpa and atftp)", name)
		}
		t.Skipf("%s not installed (apt-get install tftp-hpa atftp, or make deps)", name)
	}
	return p
}

// startServer starts a server on a free loopback port and stops it when
// the test ends.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := New(opts)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func port(s *Server) string { return strconv.Itoa(s.Addr().(*net.UDPAddr).Port) }

// writeRandom writes size random bytes to dir/name and returns them.
func writeRandom(t testing.TB, dir, name string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// Packet builders for a hand-rolled client.

func rrq(name, mode string, opts ...string) []byte {
	b := []byte{0, 1}
	for _, s := range append([]string{name, mode}, opts...) {
		b = append(append(b, s...), 0)
	}
	return b
}

func ack(block uint16) []byte { return binary.BigEndian.AppendUint16([]byte{0, 4}, block) }

func errPacket(msg string) []byte { return append(append([]byte{0, 5, 0, 0}, msg...), 0) }

// packet is one reply, as a client sees it.
type packet struct {
	op    uint16
	block uint16 // DATA, ACK; error code for ERROR
	body  []byte // DATA payload, ERROR message, OACK options
	from  *net.UDPAddr
}

func (p packet) String() string {
	switch p.op {
	case 3:
		return "DATA " + strconv.Itoa(int(p.block)) + " (" + strconv.Itoa(len(p.body)) + " bytes)"
	case 5:
		return "ERROR " + strconv.Itoa(int(p.block)) + ": " + string(p.body)
	case 6:
		return "OACK " + strings.ReplaceAll(string(p.body), "\x00", " ")
	}
	return "opcode " + strconv.Itoa(int(p.op))
}

// oack parses an OACK body into options.
func (p packet) oack() map[string]string {
	m := map[string]string{}
	f := bytes.Split(bytes.TrimSuffix(p.body, []byte{0}), []byte{0})
	for i := 0; i+1 < len(f); i += 2 {
		m[string(f[i])] = string(f[i+1])
	}
	return m
}

// rawClient is a UDP socket speaking to the server by hand.
type rawClient struct {
	t    testing.TB
	conn *net.UDPConn
	srv  *net.UDPAddr
}

func newRawClient(t testing.TB, s *Server) *rawClient {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c, srv: s.Addr().(*net.UDPAddr)}
}

func (c *rawClient) send(to *net.UDPAddr, b []byte) {
	c.t.Helper()
	if to == nil {
		to = c.srv
	}
	if _, err := c.conn.WriteToUDP(b, to); err != nil {
		c.t.Fatal(err)
	}
}

// recv waits up to d for a packet; ok is false on timeout.
func (c *rawClient) recv(d time.Duration) (packet, bool) {
	c.t.Helper()
	buf := make([]byte, 65536)
	c.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := c.conn.ReadFromUDP(buf)
	if err != nil {
		return packet{}, false
	}
	b := append([]byte(nil), buf[:n]...)
	p := packet{from: from}
	if len(b) >= 2 {
		p.op = binary.BigEndian.Uint16(b)
	}
	switch {
	case p.op == 6:
		p.body = b[2:]
	case len(b) >= 4:
		p.block = binary.BigEndian.Uint16(b[2:])
		p.body = b[4:]
		if p.op == 5 {
			p.body = bytes.TrimSuffix(p.body, []byte{0})
		}
	}
	return p, true
}

// request sends b to the server port and returns the first reply.
func (c *rawClient) request(b []byte) packet {
	c.t.Helper()
	c.send(nil, b)
	p, ok := c.recv(5 * time.Second)
	if !ok {
		c.t.Fatalf("no reply to %q", b)
	}
	return p
}

// fetch downloads name lock-step (no options) and returns the content.
func (c *rawClient) fetch(name string) []byte {
	c.t.Helper()
	p := c.request(rrq(name, "octet"))
	var got []byte
	for block := uint16(1); ; block++ {
		if p.op != 3 || p.block != block {
			c.t.Fatalf("fetch %s: %v, want DATA %d", name, p, block)
		}
		got = append(got, p.body...)
		c.send(p.from, ack(block))
		if len(p.body) < 512 {
			return got
		}
		var ok bool
		if p, ok = c.recv(5 * time.Second); !ok {
			c.t.Fatalf("fetch %s: no DATA %d", name, block+1)
		}
	}
}
