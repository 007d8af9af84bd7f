package httpboot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/template"

	"github.com/dcimd/dcimd/internal/fault"
)

// ScriptData is what a template sees.
type ScriptData struct {
	MAC      string // lower case, colon separated
	Known    bool   // a server has this MAC
	ServerID int64
	Template string
	// Kernel and Initrd as the plan gave them; KernelURL and InitrdURL are
	// absolute (a plain path is under ImagesURL).
	Kernel, Initrd       string
	KernelURL, InitrdURL string
	Cmdline              string
	Token                string
	BaseURL              string // "http://host:port", no trailing slash
	PhoneHomeURL         string // BaseURL/boot/phonehome/<token>; "" without a token
	ImagesURL            string // BaseURL/boot/images/
	ScriptURL            string // this script's own URL
	Vars                 map[string]string
}

// ParseMAC reads a MAC in any common spelling: 52:54:00:12:34:56,
// 52-54-00-12-34-56, 5254.0012.3456, 525400123456, upper or lower case,
// and the PXELINUX form with the ARP type in front (01-52-54-00-12-34-56).
// Only 48-bit MACs are accepted.
func ParseMAC(s string) (net.HardwareAddr, error) {
	s = strings.TrimSpace(s)
	if len(s) == 20 && (strings.HasPrefix(s, "01-") || strings.HasPrefix(s, "01:")) {
		s = s[3:]
	}
	if len(s) == 12 && !strings.ContainsAny(s, ":-.") {
		var b strings.Builder
		for i := 0; i < 12; i += 2 {
			if i > 0 {
				b.WriteByte(':')
			}
			b.WriteString(s[i : i+2])
		}
		s = b.String()
	}
	mac, err := net.ParseMAC(s)
	if err != nil {
		return nil, err
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("%q is not a 48-bit MAC", s)
	}
	return mac, nil
}

// Script outcomes, the "outcome" label of dcimd_httpboot_scripts_total.
const (
	outcomePlanned  = "planned"  // the plan's template
	outcomeUnknown  = "unknown"  // no server has the MAC: local boot
	outcomeRetry    = "retry"    // the plan could not be read: ask again
	outcomeFallback = "fallback" // the plan could not be rendered: local boot
)

func (h *Handler) serveScript(w http.ResponseWriter, r *http.Request) {
	macText, ok := strings.CutSuffix(r.PathValue("script"), ".ipxe")
	if !ok {
		http.NotFound(w, r)
		return
	}
	mac, err := ParseMAC(macText)
	if err != nil {
		http.Error(w, "not a MAC address: "+macText, http.StatusBadRequest)
		return
	}
	log := h.o.Log.With("mac", mac.String())
	base := h.baseURL(r)
	d := ScriptData{MAC: mac.String(), BaseURL: base, ImagesURL: base + h.o.Prefix + "/images/",
		ScriptURL: base + h.o.Prefix + "/" + mac.String() + ".ipxe"}

	plan, outcome := Plan{Template: "local"}, outcomeUnknown
	if h.o.Plans != nil {
		p, err := h.o.Plans.BootPlan(r.Context(), mac)
		switch {
		case err == nil:
			plan, outcome, d.Known = p, outcomePlanned, true
		case errors.Is(err, ErrUnknownMachine) || errors.Is(err, fault.ErrNotFound):
		default:
			attempt, _ := strconv.Atoi(r.URL.Query().Get("attempt"))
			if attempt < h.o.MaxRetries {
				log.Warn("boot plan unavailable; the machine will ask again", "err", err, "attempt", attempt)
				h.writeScript(w, "retry", outcomeRetry, h.retryScript(d, attempt+1))
				return
			}
			log.Error("boot plan unavailable; booting locally", "err", err, "attempt", attempt)
			outcome = outcomeFallback
		}
	}
	if plan.Template == "" {
		plan.Template = "local"
	}
	body, err := h.render(plan, d)
	if err != nil {
		log.Error("render boot script; booting locally", "server_id", plan.ServerID, "template", plan.Template, "err", err)
		plan, outcome = Plan{Template: "local", ServerID: plan.ServerID}, outcomeFallback
		if body, err = h.render(plan, d); err != nil {
			log.Error("render local boot script; using the built-in one", "err", err)
			body = []byte(builtinLocal(d.MAC))
		}
	}
	h.writeScript(w, plan.Template, outcome, body)
}

func (h *Handler) writeScript(w http.ResponseWriter, tmpl, outcome string, body []byte) {
	h.m.scripts.WithLabelValues(tmpl, outcome).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// render fills the plan's template.
func (h *Handler) render(p Plan, d ScriptData) ([]byte, error) {
	if !validTemplateName(p.Template) {
		return nil, fmt.Errorf("template name %q: want lower-case letters, digits, - and _", p.Template)
	}
	// A line break would let a value add its own iPXE commands.
	vals := []string{p.Kernel, p.Initrd, p.Cmdline, p.Token}
	for _, v := range p.Vars {
		vals = append(vals, v)
	}
	for _, v := range vals {
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, errors.New("a plan value contains a line break")
		}
	}
	if p.Token != "" && strings.ContainsAny(p.Token, " /?#%&") {
		return nil, errors.New("the token is not URL-safe")
	}
	d.Template, d.ServerID, d.Kernel, d.Initrd, d.Cmdline, d.Token = p.Template, p.ServerID, p.Kernel, p.Initrd, p.Cmdline, p.Token
	d.Vars = p.Vars
	if d.Vars == nil {
		d.Vars = map[string]string{}
	}
	d.KernelURL, d.InitrdURL = h.imageURL(d.ImagesURL, p.Kernel), h.imageURL(d.ImagesURL, p.Initrd)
	if p.Token != "" {
		d.PhoneHomeURL = d.BaseURL + h.o.Prefix + "/phonehome/" + p.Token
	}
	name := p.Template + ".ipxe.tmpl"
	src, err := fs.ReadFile(h.o.Templates, name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(string(src))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("#!ipxe")) {
		return nil, fmt.Errorf("template %s does not render an iPXE script (no #!ipxe first)", name)
	}
	return buf.Bytes(), nil
}

var funcs = template.FuncMap{
	// required fails the render when a value the template needs is empty:
	// {{required "kernel" .KernelURL}}.
	"required": func(what string, v string) (string, error) {
		if v == "" {
			return "", fmt.Errorf("the plan has no %s", what)
		}
		return v, nil
	},
}

func validTemplateName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// imageURL makes a plan's kernel or initrd absolute.
func (h *Handler) imageURL(images, p string) string {
	if p == "" {
		return ""
	}
	if u, err := url.Parse(p); err == nil && u.Scheme != "" {
		return p
	}
	segs := strings.Split(strings.TrimLeft(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return images + strings.Join(segs, "/")
}

// baseURL is how the machine reached us.
func (h *Handler) baseURL(r *http.Request) string {
	if h.o.BaseURL != "" {
		return h.o.BaseURL
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	host := r.Host
	if host == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = a.String()
		}
	}
	return scheme + host
}

func (h *Handler) retryScript(d ScriptData, next int) []byte {
	secs := int(h.o.RetryDelay.Seconds())
	return fmt.Appendf(nil, "#!ipxe\n"+
		"echo dcimd: no boot plan for %s yet (attempt %d of %d); asking again in %d s\n"+
		"sleep %d ||\n"+
		"chain %s?attempt=%d || exit\n", d.MAC, next, h.o.MaxRetries, secs, secs, d.ScriptURL, next)
}

// builtinLocal is the last resort when not even local.ipxe.tmpl renders.
func builtinLocal(mac string) string {
	return "#!ipxe\n" +
		"echo dcimd: " + mac + " boots from its local disk\n" +
		"iseq ${platform} efi && exit ||\n" +
		"sanboot --no-describe --drive 0x80 ||\n" +
		"exit\n"
}
