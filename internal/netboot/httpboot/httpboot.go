// Package httpboot is dcimd's HTTP boot server: the iPXE script for each
// machine, the kernels and initrds it loads, and the phone-home endpoint
// that installers and agents report to. It is a plain http.Handler; the API
// mounts it under /boot/.
//
//	GET      /boot/{mac}.ipxe          the machine's iPXE script
//	GET|HEAD /boot/images/{path...}    a file of the image directory (Range, ETag)
//	POST     /boot/phonehome/{token}   {"status":..., "message":..., "percent":..., "log":...}
//	GET      /boot/phonehome/{token}?status=...&message=...&percent=...
//
// What a machine boots is not decided here: a Plans implementation says
// which template to render with which kernel, initrd, command line and
// token. Machines without a plan, unknown machines, and every failure to
// render boot from their local disk, so a broken template never keeps a
// server from starting the system it has. The only exception is a failing
// Plans lookup (the database is down): the machine then gets a script that
// waits and asks again, a few times, before it boots locally, so an install
// due now is not skipped by a blip.
package httpboot

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	ipxetmpl "github.com/dcimd/dcimd/templates/ipxe"
)

// Plan is how one machine boots now.
type Plan struct {
	// Template names the script, <Template>.ipxe.tmpl: "local", "linux",
	// "diag" or any other file of the template folder. "" is "local".
	Template string
	// Kernel and Initrd are paths under the image directory
	// ("debian-12/linux") or absolute URLs.
	Kernel, Initrd string
	// Cmdline is the kernel command line; the phone-home URL and token are
	// added by the templates.
	Cmdline string
	// Token is the one-time phone-home token ("" for none).
	Token    string
	ServerID int64
	// Vars are free values for custom templates ({{.Vars.key}}).
	Vars map[string]string
}

// Plans tells what a machine boots. It answers ErrUnknownMachine (or any
// error that matches fault.ErrNotFound) for a MAC no server has.
type Plans interface {
	BootPlan(ctx context.Context, mac net.HardwareAddr) (Plan, error)
}

// Status is what a phone-home reports.
type Status string

// The phone-home statuses. Success and Fail are final: the token is spent.
const (
	StatusStarted  Status = "started"
	StatusProgress Status = "progress"
	StatusSuccess  Status = "success"
	StatusFail     Status = "fail"
)

// Valid tells a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusStarted, StatusProgress, StatusSuccess, StatusFail:
		return true
	}
	return false
}

// Final tells a status that ends the token's life.
func (s Status) Final() bool { return s == StatusSuccess || s == StatusFail }

// Event is one phone-home report.
type Event struct {
	Status  Status
	Message string
	Percent *int // 0–100, nil when not reported
	Log     string
	At      time.Time
	// RemoteAddr is the reporting machine's address as the server saw it.
	RemoteAddr string
}

// Events records phone-home reports. Report answers ErrUnknownToken for a
// token it never issued and ErrTokenSpent for one that expired or already
// reported a final status; nothing is stored then.
type Events interface {
	Report(ctx context.Context, token string, ev Event) error
}

// Record is a stored phone-home event with what its token was issued for.
type Record struct {
	ID       int64
	ServerID int64
	TaskID   *int64
	Purpose  string
	Event
}

// Errors of Plans and Events implementations.
var (
	ErrUnknownMachine = errors.New("unknown machine")
	ErrUnknownToken   = errors.New("unknown boot token")
	ErrTokenSpent     = errors.New("boot token expired or already used")
)

// Options configure a Handler. Zero values take the defaults shown.
type Options struct {
	// Plans says what each machine boots; nil boots every machine locally.
	Plans Plans
	// Events records phone-homes; nil refuses them (404).
	Events Events
	// Templates holds the *.ipxe.tmpl files; the defaults shipped in
	// templates/ipxe.
	Templates fs.FS
	// ImageDir is the folder served under /boot/images/; "" serves none.
	ImageDir string
	// Prefix is where the handler is mounted; "/boot".
	Prefix string
	// BaseURL is how machines reach this server ("http://198.18.0.1:8080");
	// "" takes http:// and the Host of each script request.
	BaseURL string
	// MaxLog caps a phone-home's log field; 1 MiB. The whole body may be
	// 64 KiB larger.
	MaxLog int64
	// RetryDelay is how long a machine waits before asking again when its
	// plan could not be read; 10 s. MaxRetries is how often it asks before
	// it boots locally; 6.
	RetryDelay time.Duration
	MaxRetries int
	// Now is the clock; time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// maxMessage caps a phone-home message; longer ones are cut.
const maxMessage = 4096

// Handler serves HTTP boot. It is safe for concurrent use.
type Handler struct {
	o   Options
	mux *http.ServeMux
	m   *metricSet
}

// New builds a handler.
func New(o Options) *Handler {
	if o.Templates == nil {
		o.Templates = ipxetmpl.FS
	}
	if o.Prefix == "" {
		o.Prefix = "/boot"
	}
	o.Prefix = "/" + strings.Trim(o.Prefix, "/")
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.MaxLog <= 0 {
		o.MaxLog = 1 << 20
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 10 * time.Second
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 6
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	h := &Handler{o: o, mux: http.NewServeMux(), m: newMetricSet()}
	p := o.Prefix
	h.mux.HandleFunc("GET "+p+"/{script}", h.serveScript)
	h.mux.HandleFunc("GET "+p+"/images/{path...}", h.serveImage)
	h.mux.HandleFunc("POST "+p+"/phonehome/{token}", h.phoneHomePost)
	h.mux.HandleFunc("GET "+p+"/phonehome/{token}", h.phoneHomeGet)
	return h
}

// ServeHTTP routes a request under the prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }
