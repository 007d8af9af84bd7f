package bmcsim

import (
	"net"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/transport"
)

// conn wraps the BMC's socket: it delays answers, drops requests while
// the BMC has no AC power, and counts established RMCP+ sessions.
type conn struct {
	transport.PacketConn
	b     *BMC
	delay time.Duration

	once   sync.Once
	closed chan struct{}
}

func (c *conn) stop() { c.once.Do(func() { close(c.closed) }) }

// ReadFrom returns the next request, skipping those that arrive while
// the BMC is without power.
func (c *conn) ReadFrom(buf []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(buf)
		if err != nil || c.b.chassis.acPower() {
			return n, addr, err
		}
	}
}

// WriteTo sends an answer, after the configured delay. go-ipmi's server
// answers each request from its own goroutine, so a delay holds back one
// answer, not the BMC.
func (c *conn) WriteTo(data []byte, addr net.Addr) (int, error) {
	if c.delay > 0 {
		t := time.NewTimer(c.delay)
		select {
		case <-t.C:
		case <-c.closed:
			t.Stop()
			return 0, net.ErrClosed
		}
		if !c.b.chassis.acPower() {
			return len(data), nil // lost with the power
		}
	}
	if rakp4OK(data) {
		c.b.n.sessions.Add(1)
	}
	return c.PacketConn.WriteTo(data, addr)
}

// rakp4OK reports an RMCP+ RAKP Message 4 with status "no errors": the
// last step of a successful lanplus session handshake. Layout: RMCP
// header (4), auth type 06h, payload type, session id (4), sequence (4),
// payload length (2), then the payload: message tag, status code, ...
func rakp4OK(p []byte) bool {
	const payloadRAKP4 = 0x15
	return len(p) >= 18 && p[3]&0x1f == 0x07 && p[4] == 0x06 && p[5]&0x3f == payloadRAKP4 && p[17] == 0
}
