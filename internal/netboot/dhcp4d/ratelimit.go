package dhcp4d

import (
	"net"
	"sync"
	"time"
)

// limiter is a token bucket per MAC. A MAC's bucket starts full (Burst);
// each packet takes a token; tokens come back at PerSecond. The table is
// bounded: when full, buckets idle long enough to be full again are
// forgotten (they would allow the next packet anyway), and if none is,
// packets of new MACs are refused: a flood of made-up MACs must not grow
// memory or push out the machines being served.
type limiter struct {
	rate  float64
	burst float64
	max   int
	mu    sync.Mutex
	b     map[[6]byte]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(o RateLimit) *limiter {
	return &limiter{rate: o.PerSecond, burst: float64(o.Burst), max: o.MaxClients, b: make(map[[6]byte]*bucket)}
}

// allow takes a token for mac at now.
func (l *limiter) allow(mac net.HardwareAddr, now time.Time) bool {
	var k [6]byte
	copy(k[:], mac)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.b[k]
	if !ok {
		if len(l.b) >= l.max && !l.sweep(now) {
			return false
		}
		b = &bucket{tokens: l.burst, at: now}
		l.b[k] = b
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets the buckets that are full again at now and reports
// whether it freed any. It runs only when the table is full, so its cost
// spreads over at least max new MACs.
func (l *limiter) sweep(now time.Time) bool {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	freed := false
	for k, b := range l.b {
		if now.Sub(b.at) >= full {
			delete(l.b, k)
			freed = true
		}
	}
	return freed
}

// size is the number of MACs tracked (for tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.b)
}
