package tftpd

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are real packets of every kind, the hostile requests found
// while reading pin/tftp, and garbage.
func fuzzSeeds() [][]byte {
	seeds := [][]byte{
		rrq("boot.ipxe", "octet"),
		rrq("boot.ipxe", "netascii"),
		rrq("boot.ipxe", "mail"),
		rrq("boot.ipxe", ""),
		rrq("a", "octet", "blksize", "1468", "tsize", "0", "timeout", "1", "windowsize", "16"),
		rrq("a", "octet", "blksize", "8"),
		rrq("a", "octet", "blksize", "70000"),
		rrq("a", "octet", "blksize", "-1"),
		rrq("a", "octet", "blksize", "abc"),
		rrq("a", "octet", "BLKSIZE", "1024"),
		rrq("a", "octet", "blksize"),
		rrq("a", "octet", "tsize", "18446744073709551616"),
		rrq("a", "octet", "blksize", "+65464"),
		oackOverflowRRQ("a"),
		rrq("../../etc/passwd", "octet"),
		rrq("/etc/passwd", "octet"),
		rrq(`..\x`, "octet"),
		rrq("", "octet"),
		[]byte("\x00\x01boot.ipxe"),                    // unterminated
		[]byte("\x00\x01boot.ipxe\x00octet"),           // mode unterminated
		[]byte("\x00\x01\x00"),                         // empty everything
		append([]byte{0, 2}, rrq("w", "octet")[2:]...), // WRQ
		ack(0), ack(1), ack(65535),
		{0, 4, 0}, // short ACK
		errPacket("client gave up"),
		{0, 5, 0},    // short ERROR
		{0, 5, 0, 1}, // ERROR without message
		[]byte("\x00\x06blksize\x00512\x00"),
		[]byte("\x00\x06blksize\x0065464\x00tsize\x001\x00"),
		[]byte("\x00\x06blksize\x00100000\x00"),
		[]byte("\x00\x06\x00\x00"),
		[]byte("\x00\x03\x00\x01data"),
		{}, {0}, {0xff, 0xff}, {0, 7, 1, 2, 3}, {0, 0},
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		append([]byte{0, 1}, bytes.Repeat([]byte("A"), 65000)...), // oversized RRQ
		bytes.Repeat([]byte{0}, 1500),
		append([]byte{0, 4, 0, 1}, bytes.Repeat([]byte{0xee}, 2000)...), // oversized ACK
	}
	return seeds
}

// FuzzTFTPPacket sends arbitrary datagrams to a running server, both to
// its request port and into a transfer (as the answer to an OACK or to a
// DATA block), and checks after each that it still serves a file. A panic
// in one of the library's own goroutines would end the test binary.
func FuzzTFTPPacket(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	root := f.TempDir()
	want := writeRandom(f, root, "boot.ipxe", 700)
	writeRandom(f, root, "a", 200000) // short name, six-digit size: reaches the OACK overflow
	// The server must not log through f: it runs during the fuzz target.
	s := startServer(f, Options{Roots: []string{root}, Timeout: 100 * time.Millisecond, Retries: 1, MaxTransfers: 1000,
		Log: slog.New(slog.DiscardHandler)})
	srv := s.Addr().(*net.UDPAddr)

	f.Fuzz(func(t *testing.T, pkt []byte) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rc := &rawClient{t: t, conn: c, srv: srv}

		// 1. To the request port; end whatever it started.
		c.WriteToUDP(pkt, srv)
		if p, ok := rc.recv(5 * time.Millisecond); ok && p.from.Port != srv.Port {
			rc.send(p.from, errPacket("done"))
		}

		// 2. Into a transfer, as the reply to its first packet.
		req := rrq("boot.ipxe", "octet")
		if len(pkt)%2 == 1 {
			req = rrq("boot.ipxe", "octet", "blksize", "600", "tsize", "0")
		}
		p := rc.request(req) // fails the test if the server stopped answering
		rc.send(p.from, pkt)
		rc.recv(5 * time.Millisecond)
		rc.send(p.from, errPacket("done"))

		// 3. Still serving, whole files.
		if len(pkt) > 0 && pkt[0]%16 == 0 {
			d, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if got := (&rawClient{t: t, conn: d, srv: srv}).fetch("boot.ipxe"); !bytes.Equal(got, want) {
				t.Fatalf("after %q: got %d bytes, want %d", pkt, len(got), len(want))
			}
		}
	})
}

// TestFuzzSeedsDoNotStopServer runs every seed once against a fresh server
// and then serves a file, so the seed corpus is covered by plain go test
// with a clear report.
func TestFuzzSeedsDoNotStopServer(t *testing.T) {
	root := t.TempDir()
	want := writeRandom(t, root, "boot.ipxe", 700)
	writeRandom(t, root, "a", 200000)
	s := startServer(t, Options{Roots: []string{root}, Timeout: 100 * time.Millisecond, Retries: 1})
	for _, pkt := range fuzzSeeds() {
		c := newRawClient(t, s)
		c.send(nil, pkt)
		if p, ok := c.recv(20 * time.Millisecond); ok && p.from.Port != s.Addr().(*net.UDPAddr).Port {
			c.send(p.from, errPacket("done"))
		}
	}
	if got := newRawClient(t, s).fetch("boot.ipxe"); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for s.Stats().InFlight != 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	st := s.Stats()
	t.Logf("stats %+v", st)
	if st.Panics == 0 {
		t.Error("the OACK overflow seed did not reach the library panic (did pin/tftp change?)")
	}
	if !strings.Contains(string(oackOverflowRRQ("a")), "blksize") || len(oackOverflowRRQ("a")) != 516 {
		t.Errorf("overflow request is %d bytes, want 516", len(oackOverflowRRQ("a")))
	}
}
