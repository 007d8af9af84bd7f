//go:build linux

package qemupxe

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestNetSide: sockets opened through Side belong to the servers'
// namespace, which has the VM-facing interface and address; the calling
// goroutine's thread is back in its own namespace afterwards. Needs root,
// not qemu.
func TestNetSide(t *testing.T) {
	n := NewNet(t)
	s := n.Server()
	if !s.Prefix.Contains(s.Addr) || s.Prefix.Bits() != 24 || s.Addr.As4()[0] != 198 || s.Addr.As4()[1] != 18 {
		t.Fatalf("addresses %s in %s", s.Addr, s.Prefix)
	}
	if first, last := s.DHCPRange(); !s.Prefix.Contains(first) || !s.Prefix.Contains(last) || first.As4()[3] != 100 || last.As4()[3] != 250 {
		t.Fatalf("range %s-%s", first, last)
	}
	rootNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	var ifaces []net.Interface
	if err := s.Do(func() (err error) {
		if inside, err = os.Readlink("/proc/thread-self/ns/net"); err != nil {
			return err
		}
		ifaces, err = net.Interfaces()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside == rootNS {
		t.Fatalf("Do ran in the root namespace (%s)", inside)
	}
	var names []string
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	if strings.Join(names, ",") != "lo,"+s.Iface {
		t.Fatalf("interfaces in the servers' namespace: %v", names)
	}

	base := s.ServeHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello from " + r.Host))
	}), 0)
	if !strings.HasPrefix(base, "http://"+s.Addr.String()+":") {
		t.Fatalf("base URL %s", base)
	}
	// A client must be inside too: the address exists nowhere else.
	var body bytes.Buffer
	if err := s.Do(func() error {
		c, err := net.Dial("tcp4", strings.TrimPrefix(base, "http://"))
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET / HTTP/1.0\r\nHost: x\r\n\r\n")); err != nil {
			return err
		}
		_, err = body.ReadFrom(c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body.String(), "hello from x") {
		t.Fatalf("response %q", body.String())
	}
	pc, err := s.ListenPacket("udp4", s.Addr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()

	out, err := s.Command(context.Background(), "cat", "/proc/net/dev").Output()
	if err != nil || !strings.Contains(string(out), s.Iface+":") {
		t.Fatalf("command in the namespace: %v\n%s", err, out)
	}
}

func TestDecodePPM(t *testing.T) {
	img, err := decodePPM([]byte("P6\n# qemu\n2 1\n255\n\xff\x00\x00\x00\x00\xff"))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _, _ := img.At(0, 0).RGBA(); r != 0xffff {
		t.Errorf("pixel 0 red %x", r)
	}
	if _, _, b, _ := img.At(1, 0).RGBA(); b != 0xffff {
		t.Errorf("pixel 1 blue %x", b)
	}
	for _, bad := range []string{"P3\n1 1\n255\n", "P6\n1 1\n65535\n\x00\x00", "P6\n2 2\n255\n\x00"} {
		if _, err := decodePPM([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
