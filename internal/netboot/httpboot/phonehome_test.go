package httpboot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEvents keeps tokens and events in memory with the store's rules: a
// token lives until it expires or reports a final status.
type fakeEvents struct {
	mu     sync.Mutex
	tokens map[string]*fakeToken
	events []Event
	err    error
}

type fakeToken struct {
	expires time.Time
	spent   bool
}

func newFakeEvents(now time.Time, tokens ...string) *fakeEvents {
	f := &fakeEvents{tokens: map[string]*fakeToken{}}
	for _, t := range tokens {
		f.tokens[t] = &fakeToken{expires: now.Add(time.Hour)}
	}
	return f
}

func (f *fakeEvents) Report(_ context.Context, token string, ev Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	tk, ok := f.tokens[token]
	if !ok {
		return ErrUnknownToken
	}
	if tk.spent || !ev.At.Before(tk.expires) {
		return ErrTokenSpent
	}
	tk.spent = ev.Status.Final()
	f.events = append(f.events, ev)
	return nil
}

func (f *fakeEvents) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

func (f *fakeEvents) last() Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events[len(f.events)-1]
}

func post(t *testing.T, h http.Handler, target, ctype, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.RemoteAddr = "198.18.0.150:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errMsg reads the error body.
func errMsg(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct {
		Error struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Error.Code != w.Code {
		t.Fatalf("error body %q (status %d): %v", w.Body, w.Code, err)
	}
	return b.Error.Msg
}

const (
	tokA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tokB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	tokC = "ccccccccccccccccccccccccccccccccccccccccccc"
)

// TestPhoneHomeFlow: progress reports, then a final one, then the token
// is spent; GET works for iPXE; form bodies work for busybox wget.
func TestPhoneHomeFlow(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ev := newFakeEvents(now, tokA, tokB)
	h := New(Options{Events: ev, Now: func() time.Time { return now }, Log: quiet()})

	w := post(t, h, "/boot/phonehome/"+tokA, "application/json", `{"status":"started","message":"installer up"}`)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("started: status %d %s", w.Code, w.Body)
	}
	if e := ev.last(); e.Status != StatusStarted || e.Message != "installer up" || e.Percent != nil || e.RemoteAddr != "198.18.0.150" ||
		!e.At.Equal(now) {
		t.Fatalf("stored %+v", e)
	}
	w = get(t, h, "/boot/phonehome/"+tokA+"?status=progress&percent=40&message=partitioning")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "#!ipxe\n") {
		t.Fatalf("GET progress: status %d %q", w.Code, w.Body)
	}
	if e := ev.last(); e.Status != StatusProgress || e.Percent == nil || *e.Percent != 40 || e.Message != "partitioning" {
		t.Fatalf("stored %+v", e)
	}
	w = post(t, h, "/boot/phonehome/"+tokA, "application/x-www-form-urlencoded", "status=progress&percent=90&log=line1%0Aline2")
	if w.Code != http.StatusOK || ev.last().Log != "line1\nline2" {
		t.Fatalf("form: status %d %s, stored %+v", w.Code, w.Body, ev.last())
	}
	w = post(t, h, "/boot/phonehome/"+tokA, "", `{"status":"success","percent":100,"log":"all done\u0000"}`)
	var ok struct {
		Status string `json:"status"`
		Final  bool   `json:"final"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &ok) != nil || !ok.Final || ok.Status != "success" {
		t.Fatalf("success: status %d %s", w.Code, w.Body)
	}
	if ev.last().Log != "all done" {
		t.Fatalf("NUL kept in the log: %q", ev.last().Log)
	}
	n := ev.count()
	w = post(t, h, "/boot/phonehome/"+tokA, "application/json", `{"status":"progress"}`)
	if w.Code != http.StatusGone || ev.count() != n {
		t.Fatalf("after success: status %d, %d events (had %d)", w.Code, ev.count(), n)
	}
	errMsg(t, w)
	if w := get(t, h, "/boot/phonehome/"+tokA+"?status=fail"); w.Code != http.StatusGone {
		t.Fatalf("GET after success: status %d", w.Code)
	}
	if got := metric(t, h, "dcimd_httpboot_phonehome_total", "status="+"progress", "result="+resultRecorded); got != 2 {
		t.Errorf("phonehome_total{progress,recorded} = %v", got)
	}
	if got := metric(t, h, "dcimd_httpboot_phonehome_total", "status="+"progress", "result="+resultSpent); got != 1 {
		t.Errorf("phonehome_total{progress,spent} = %v", got)
	}

	// Expiry: the handler's clock is past the token's life.
	now = now.Add(2 * time.Hour)
	if w := post(t, h, "/boot/phonehome/"+tokB, "application/json", `{"status":"started"}`); w.Code != http.StatusGone {
		t.Fatalf("expired token: status %d %s", w.Code, w.Body)
	}
}

// TestPhoneHomeRefused: wrong tokens, bad bodies and oversized ones are
// refused with a JSON error and store nothing.
func TestPhoneHomeRefused(t *testing.T) {
	now := time.Now()
	ev := newFakeEvents(now, tokA)
	h := New(Options{Events: ev, MaxLog: 1000, Log: quiet()})
	big := strings.Repeat("x", 1000+64<<10)
	for _, tc := range []struct {
		name, target, ctype, body string
		code                      int
	}{
		{"unknown token", "/boot/phonehome/" + tokC, "application/json", `{"status":"started"}`, 404},
		{"short token", "/boot/phonehome/abc", "application/json", `{"status":"started"}`, 404},
		{"odd token", "/boot/phonehome/" + strings.Repeat("a", 20) + "%25", "application/json", `{"status":"started"}`, 404},
		{"long token", "/boot/phonehome/" + strings.Repeat("a", 129), "application/json", `{"status":"started"}`, 404},
		{"no status", "/boot/phonehome/" + tokA, "application/json", `{"message":"hi"}`, 400},
		{"bad status", "/boot/phonehome/" + tokA, "application/json", `{"status":"done"}`, 400},
		{"percent too high", "/boot/phonehome/" + tokA, "application/json", `{"status":"progress","percent":101}`, 400},
		{"negative percent", "/boot/phonehome/" + tokA, "application/json", `{"status":"progress","percent":-1}`, 400},
		{"not JSON", "/boot/phonehome/" + tokA, "application/json", `status=started`, 400},
		{"JSON array", "/boot/phonehome/" + tokA, "application/json", `[]`, 400},
		{"percent as text", "/boot/phonehome/" + tokA, "application/json", `{"status":"progress","percent":"5"}`, 400},
		{"log over the cap", "/boot/phonehome/" + tokA, "application/json", `{"status":"progress","log":"` + strings.Repeat("y", 1001) + `"}`, 413},
		{"body over the cap", "/boot/phonehome/" + tokA, "application/json", `{"status":"progress","log":"` + big + `"}`, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := post(t, h, tc.target, tc.ctype, tc.body)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if errMsg(t, w) == "" {
				t.Fatal("empty error message")
			}
			if ev.count() != 0 {
				t.Fatalf("%d events stored", ev.count())
			}
		})
	}
	for _, q := range []string{"", "?status=bogus", "?status=progress&percent=x", "?status=progress&percent=200"} {
		if w := get(t, h, "/boot/phonehome/"+tokA+q); w.Code != http.StatusBadRequest {
			t.Errorf("GET %q: status %d", q, w.Code)
		}
	}
	if w := do(t, h, http.MethodHead, "/boot/phonehome/"+tokA+"?status=started", nil); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("HEAD: status %d", w.Code)
	}
	if ev.count() != 0 {
		t.Fatalf("%d events stored", ev.count())
	}
	if w := post(t, New(Options{Log: quiet()}), "/boot/phonehome/"+tokA, "", `{"status":"started"}`); w.Code != http.StatusNotFound {
		t.Errorf("no Events: status %d", w.Code)
	}
	ev.err = errors.New("disk full")
	if w := post(t, h, "/boot/phonehome/"+tokA, "", `{"status":"started"}`); w.Code != http.StatusInternalServerError ||
		strings.Contains(w.Body.String(), "disk") {
		t.Errorf("store failure: status %d %s", w.Code, w.Body)
	}
}

// TestPhoneHomeMessageCut: a long message is cut on a rune boundary and
// invalid UTF-8 replaced.
func TestPhoneHomeMessageCut(t *testing.T) {
	ev := newFakeEvents(time.Now(), tokA)
	h := New(Options{Events: ev, Log: quiet()})
	msg := strings.Repeat("é", maxMessage) // 2 bytes each
	body, _ := json.Marshal(map[string]any{"status": "progress", "message": msg, "log": "bad \xff byte"})
	if w := post(t, h, "/boot/phonehome/"+tokA, "application/json", string(body)); w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	e := ev.last()
	if len(e.Message) != maxMessage || !strings.HasPrefix(msg, e.Message) {
		t.Fatalf("message of %d bytes", len(e.Message))
	}
	if e.Log != "bad \uFFFD byte" {
		t.Fatalf("log %q", e.Log)
	}
}
