package httpboot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dcimd/dcimd/internal/fault"
)

// report is a phone-home body.
type report struct {
	Status  Status `json:"status"`
	Message string `json:"message"`
	Percent *int   `json:"percent"`
	Log     string `json:"log"`
}

// Phone-home results, the "result" label of dcimd_httpboot_phonehome_total.
const (
	resultRecorded     = "recorded"
	resultUnknownToken = "unknown_token"
	resultSpent        = "spent"
	resultBadRequest   = "bad_request"
	resultTooLarge     = "too_large"
	resultError        = "error"
)

// phoneHomePost takes a JSON body, or a form for clients that cannot set
// a content type (busybox wget --post-data).
func (h *Handler) phoneHomePost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, h.o.MaxLog+64<<10)
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.phoneHomeFail(w, "", resultTooLarge, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than %d bytes", h.o.MaxLog+64<<10))
			return
		}
		h.phoneHomeFail(w, "", resultBadRequest, http.StatusBadRequest, "cannot read the request body")
		return
	}
	var rep report
	trimmed := bytes.TrimSpace(raw)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && !bytes.HasPrefix(trimmed, []byte("{")) {
		q, err := url.ParseQuery(string(trimmed))
		if err != nil {
			h.phoneHomeFail(w, "", resultBadRequest, http.StatusBadRequest, "the form does not parse")
			return
		}
		if rep, err = reportFromQuery(q); err != nil {
			h.phoneHomeFail(w, "", resultBadRequest, http.StatusBadRequest, err.Error())
			return
		}
	} else if err := json.Unmarshal(trimmed, &rep); err != nil {
		h.phoneHomeFail(w, "", resultBadRequest, http.StatusBadRequest, "the body is not a JSON phone-home report")
		return
	}
	if h.record(w, r, rep) {
		writeJSON(w, http.StatusOK, map[string]any{"status": rep.Status, "final": rep.Status.Final()})
	}
}

// phoneHomeGet is for iPXE, which cannot POST a body easily: the report is
// in the query and the answer is an empty iPXE script, so both imgfetch
// and chain succeed.
func (h *Handler) phoneHomeGet(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		// The mux routes HEAD to GET handlers; a HEAD must not report.
		w.Header().Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	rep, err := reportFromQuery(r.URL.Query())
	if err != nil {
		h.phoneHomeFail(w, "", resultBadRequest, http.StatusBadRequest, err.Error())
		return
	}
	if h.record(w, r, rep) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "#!ipxe\n# dcimd: phone-home "+string(rep.Status)+" recorded\n")
	}
}

func reportFromQuery(q url.Values) (report, error) {
	rep := report{Status: Status(q.Get("status")), Message: q.Get("message"), Log: q.Get("log")}
	if p := q.Get("percent"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return rep, errors.New("percent: not a whole number")
		}
		rep.Percent = &n
	}
	return rep, nil
}

// record checks and stores a report; it answers the error itself and
// reports false when it did.
func (h *Handler) record(w http.ResponseWriter, r *http.Request, rep report) bool {
	token := r.PathValue("token")
	switch {
	case !rep.Status.Valid():
		h.phoneHomeFail(w, "", resultBadRequest, http.StatusBadRequest, "status: want started, progress, success or fail")
		return false
	case rep.Percent != nil && (*rep.Percent < 0 || *rep.Percent > 100):
		h.phoneHomeFail(w, string(rep.Status), resultBadRequest, http.StatusBadRequest, "percent: want 0 to 100")
		return false
	case int64(len(rep.Log)) > h.o.MaxLog:
		h.phoneHomeFail(w, string(rep.Status), resultTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("log: longer than %d bytes", h.o.MaxLog))
		return false
	case h.o.Events == nil || !validToken(token):
		h.phoneHomeFail(w, string(rep.Status), resultUnknownToken, http.StatusNotFound, "unknown boot token")
		return false
	}
	ev := Event{Status: rep.Status, Message: clean(rep.Message, maxMessage), Percent: rep.Percent, Log: clean(rep.Log, -1),
		At: h.o.Now().UTC(), RemoteAddr: remoteHost(r)}
	err := h.o.Events.Report(r.Context(), token, ev)
	switch {
	case err == nil:
		h.m.phoneHome.WithLabelValues(string(rep.Status), resultRecorded).Inc()
		return true
	case errors.Is(err, ErrUnknownToken) || errors.Is(err, fault.ErrNotFound):
		h.phoneHomeFail(w, string(rep.Status), resultUnknownToken, http.StatusNotFound, "unknown boot token")
	case errors.Is(err, ErrTokenSpent):
		h.phoneHomeFail(w, string(rep.Status), resultSpent, http.StatusGone, "boot token expired or already used")
	default:
		h.o.Log.Error("record phone-home", "status", rep.Status, "remote", ev.RemoteAddr, "err", err)
		h.phoneHomeFail(w, string(rep.Status), resultError, http.StatusInternalServerError, "internal error")
	}
	return false
}

func (h *Handler) phoneHomeFail(w http.ResponseWriter, status, result string, code int, msg string) {
	if status == "" || !Status(status).Valid() {
		status = "invalid"
	}
	h.m.phoneHome.WithLabelValues(status, result).Inc()
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "msg": msg, "value": nil}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// validToken accepts what IssueToken makes (and any similar opaque token):
// 16 to 128 URL-safe characters. Anything else never reaches the store.
func validToken(t string) bool {
	if len(t) < 16 || len(t) > 128 {
		return false
	}
	for _, c := range t {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// clean makes text storable in both databases (valid UTF-8, no NUL) and
// cuts it to max bytes on a rune boundary (max < 0: no cut).
func clean(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if max >= 0 && len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
