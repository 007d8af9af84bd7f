package tftpd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestShutdownEndsTransfers holds one transfer, shuts down, then
// acknowledges: the next thing the client gets is "server shutting down",
// and Shutdown returns.
func TestShutdownEndsTransfers(t *testing.T) {
	root := t.TempDir()
	writeRandom(t, root, "big.bin", 1<<20)
	s := New(Options{Addr: "127.0.0.1:0", Roots: []string{root}, Timeout: 2 * time.Second, Retries: 2})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := hold(t, s, "big.bin")
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	// A new request while draining is refused (or finds the socket closed).
	time.Sleep(50 * time.Millisecond)
	late := newRawClient(t, s)
	late.send(nil, rrq("big.bin", "octet"))
	if p, ok := late.recv(time.Second); ok && (p.op != 5 || string(p.body) != "server shutting down") {
		t.Errorf("request during shutdown: %v", p)
	}
	h.send(h.tid, ack(1))
	p, ok := h.recv(5 * time.Second)
	if !ok || p.op != 5 || string(p.body) != "server shutting down" {
		t.Errorf("after shutdown began: %v (received %v), want ERROR server shutting down", p, ok)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	t.Logf("shutdown took %v", time.Since(start).Round(time.Millisecond))
	if err := s.Start(context.Background()); err == nil {
		t.Error("restart after shutdown: want an error")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if st := s.Stats(); st.Failed != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v: want the held transfer failed", st)
	}
}

// TestShutdownDeadline: a silent client keeps its transfer until the
// retries run out; Shutdown with a shorter ctx says so, and a later call
// waits for the end.
func TestShutdownDeadline(t *testing.T) {
	root := t.TempDir()
	writeRandom(t, root, "big.bin", 1<<20)
	s := New(Options{Addr: "127.0.0.1:0", Roots: []string{root}, Timeout: 300 * time.Millisecond, Retries: 2})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hold(t, s, "big.bin")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("shutdown with a silent client and 50ms: %v, want deadline exceeded", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), s.DrainTimeout()+5*time.Second)
	defer cancel2()
	if err := s.Shutdown(ctx2); err != nil {
		t.Errorf("shutdown within DrainTimeout: %v", err)
	}
}

func TestServeUntilCancelled(t *testing.T) {
	root := t.TempDir()
	writeRandom(t, root, "a", 10)
	s := New(Options{Addr: "127.0.0.1:0", Roots: []string{root}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for s.Addr() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := newRawClient(t, s).fetch("a"); len(got) != 10 {
		t.Errorf("got %d bytes", len(got))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	for name, o := range map[string]Options{
		"no roots":      {Addr: "127.0.0.1:0"},
		"missing root":  {Addr: "127.0.0.1:0", Roots: []string{filepath.Join(dir, "nope")}},
		"block 512":     {Addr: "127.0.0.1:0", Roots: []string{dir}, BlockSizeMax: 512},
		"block 70000":   {Addr: "127.0.0.1:0", Roots: []string{dir}, BlockSizeMax: 70000},
		"bad address":   {Addr: "127.0.0.1:99999", Roots: []string{dir}},
		"not localhost": {Addr: "256.0.0.1:0", Roots: []string{dir}},
	} {
		if err := New(o).Start(context.Background()); err == nil {
			t.Errorf("%s: Start succeeded", name)
		}
	}
}

func TestIPv6Loopback(t *testing.T) {
	ln, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	root := t.TempDir()
	want := writeRandom(t, root, "six.bin", 3000)
	s := startServer(t, Options{Addr: "[::1]:0", Roots: []string{root}})
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := &rawClient{t: t, conn: c, srv: s.Addr().(*net.UDPAddr)}
	p := rc.request(rrq("six.bin", "octet", "blksize", "4000"))
	if p.op != 6 || p.oack()["blksize"] != "4000" {
		t.Fatalf("reply %v, want OACK blksize 4000", p)
	}
	rc.send(p.from, ack(0))
	d, ok := rc.recv(5 * time.Second)
	if !ok || d.op != 3 || string(d.body) != string(want) {
		t.Fatalf("reply %v", d)
	}
	rc.send(p.from, ack(1))
}

// TestEmbeddedFiles: the roots come first, then Files.
func TestEmbeddedFiles(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "both.txt"), []byte("from disk"), 0o644)
	files := fstest.MapFS{
		"both.txt":       {Data: []byte("embedded")},
		"ipxe/undionly":  {Data: []byte("embedded ipxe")},
		"ipxe":           {Mode: os.ModeDir},
		"../outside.txt": {Data: []byte("never")},
	}
	s := startServer(t, Options{Roots: []string{root}, Files: files})
	for name, want := range map[string]string{"both.txt": "from disk", "ipxe/undionly": "embedded ipxe", "ipxe": "", "../outside.txt": ""} {
		c := newRawClient(t, s)
		if want != "" {
			if got := c.fetch(name); string(got) != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
			continue
		}
		if p := c.request(rrq(name, "octet")); p.op != 5 {
			t.Errorf("%s: %v, want an error", name, p)
		}
	}
	s2 := startServer(t, Options{Files: files})
	if got := newRawClient(t, s2).fetch("ipxe/undionly"); string(got) != "embedded ipxe" {
		t.Errorf("embedded only: %q", got)
	}
}

// oackOverflowRRQ is a request whose OACK is longer than the 516-byte
// buffer pin/tftp v3.1.0 packs it into: blksize "000…0512" pads the
// request to the 516-byte maximum, and the tsize the server fills in is
// longer than the "0" asked for.
func oackOverflowRRQ(name string) []byte {
	pad := 516 - len(rrq(name, "", "blksize", "", "tsize", "0")) - 3
	return rrq(name, "", "blksize", strings.Repeat("0", pad)+"512", "tsize", "0")
}

// TestLibraryPanicGuarded sends the request that makes pin/tftp v3.1.0
// index past its buffer; without the recover in handleRead the process
// dies. The server keeps serving.
func TestLibraryPanicGuarded(t *testing.T) {
	root := t.TempDir()
	writeRandom(t, root, "a", 200000) // short name, six-digit size
	s := startServer(t, Options{Roots: []string{root}})
	c := newRawClient(t, s)
	c.send(nil, oackOverflowRRQ("a"))
	c.recv(500 * time.Millisecond)
	if got := newRawClient(t, s).fetch("a"); len(got) != 200000 {
		t.Fatalf("after the hostile request: got %d bytes", len(got))
	}
	if st := s.Stats(); st.Panics != 1 {
		t.Errorf("panics %d, want 1 (did the library change?)", st.Panics)
	}
}

func TestMetrics(t *testing.T) {
	root := t.TempDir()
	writeRandom(t, root, "a.bin", 1000)
	s := startServer(t, Options{Roots: []string{root}})
	c := newRawClient(t, s)
	c.fetch("a.bin")
	c.request(rrq("../x", "octet"))
	c.send(nil, []byte{0, 4, 0, 1}) // an ACK on the server port
	waitIdle(t, s)
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Completed == 0 || s.Stats().BadPackets == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got, series := map[string]float64{}, 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			series++
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"dcimd_tftp_sent_bytes_total":                         1000,
		"dcimd_tftp_transfers_total{result=started}":          1,
		"dcimd_tftp_transfers_total{result=completed}":        1,
		"dcimd_tftp_transfers_total{result=failed}":           0,
		"dcimd_tftp_requests_refused_total{reason=forbidden}": 1,
		"dcimd_tftp_requests_refused_total{reason=busy}":      0,
		"dcimd_tftp_bad_packets_total":                        1,
		"dcimd_tftp_transfers_in_flight":                      0,
		"dcimd_tftp_recovered_panics_total":                   0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if series != 12 {
		t.Errorf("%d series, want 12: %v", series, got)
	}
}
