package auth

import (
	"sync"
	"time"
)

// failureLimiter counts failed logins per key in a fixed window. It is per
// process: with several replicas each throttles on its own, which bounds an
// attacker to replicas × limit per window.
type failureLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	hits   map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newFailureLimiter(limit int, w time.Duration) *failureLimiter {
	return &failureLimiter{limit: limit, window: w, hits: map[string]*window{}}
}

// blocked reports whether key used up its failures in the current window.
func (l *failureLimiter) blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.hits[key]
	if !ok || now.Sub(w.start) >= l.window {
		return false
	}
	return w.n >= l.limit
}

// fail records one failure.
func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.hits[key]
	if !ok || now.Sub(w.start) >= l.window {
		if len(l.hits) > 100000 { // bound memory under a spray of addresses
			l.sweep(now)
		}
		l.hits[key] = &window{start: now, n: 1}
		return
	}
	w.n++
}

// reset forgets key after a success.
func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	delete(l.hits, key)
	l.mu.Unlock()
}

func (l *failureLimiter) sweep(now time.Time) {
	for k, w := range l.hits {
		if now.Sub(w.start) >= l.window {
			delete(l.hits, k)
		}
	}
}
