// Package lab runs `dcimd lab`: a simulated datacenter in one process.
// It starts a simulated BMC per server (bmcsim, go-ipmi's BMC server), a
// simulated APC PDU per rack (pdusim) and a simulated switch per rack
// (switchsim; both SNMP agents on snmpagent) on loopback ports, fills the
// inventory with a location, racks, platforms, servers as if
// diagnosed, owners, BMC records, PDU outlets and switch ports, and then
// runs the real daemon (app.Serve) on the same configuration as `serve`.
package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dcimd/dcimd/internal/app"
	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/lab/pdusim"
	"github.com/dcimd/dcimd/internal/lab/switchsim"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
)

// Defaults.
const (
	DefaultServers = 8
	MaxServers     = 1000
	// PollInterval is the lab's power poll interval when the configuration
	// keeps the default: the lab's BMC records change ports on every
	// start, and a newcomer should see power states soon.
	PollInterval = 10 * time.Second
	// DemoEmail is the @user who rents half of the lab's servers.
	DemoEmail = "demo@example.com"
	// demoPasswordFile keeps the demo user's generated password in the
	// data dir, like initial-admin-password.
	demoPasswordFile = "lab-demo-password"
	// pduRebootDelay is how long a simulated outlet stays off on reboot.
	pduRebootDelay = 3 * time.Second
)

// Options tune the lab.
type Options struct {
	// Servers is the number of simulated servers; default 8.
	Servers int

	// started, when set (by tests), sees the simulators once they run.
	started func(*sims)
}

// Run starts the simulated datacenter and the daemon, and returns when
// ctx ends and everything has stopped. out receives the human-facing text.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer, opts Options) error {
	if opts.Servers == 0 {
		opts.Servers = DefaultServers
	}
	if opts.Servers < 0 || opts.Servers > MaxServers {
		return fmt.Errorf("lab: --servers must be between 1 and %d", MaxServers)
	}
	cfg, err := labConfig(cfg)
	if err != nil {
		return err
	}
	lay := newLayout(opts.Servers)
	sims, err := startSims(lay, pduRebootDelay)
	if err != nil {
		return err
	}
	defer func() {
		if err := sims.Close(); err != nil {
			log.Warn("stop simulators", "err", err)
		}
	}()
	if opts.started != nil {
		opts.started(sims)
	}

	db, err := app.OpenDB(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	demo, demoPW, err := ensureDemoUser(ctx, cfg, db, log)
	if err != nil {
		db.Close()
		return err
	}
	sd := &seeder{svc: server.NewService(db.Inventory()), lay: lay, bmcs: sims.bmcs, pdus: sims.pdus, switches: sims.switches, demoID: demo}
	res, err := sd.run(ctx)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("lab: fill the inventory: %w", err)
	}
	log.Info("lab inventory ready", "servers", lay.servers, "racks", lay.racks, "objects_created", res.created)
	printLab(out, lay, sims, res, demoPW)

	url := baseURL(cfg.Listen)
	readyCtx, stopReady := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if waitReady(readyCtx, url) {
			printTryThis(out, cfg, url, res.firstServer)
		}
	}()
	err = app.Serve(ctx, cfg, log, out)
	stopReady()
	wg.Wait()
	return err
}

// labConfig adapts serve's configuration: a faster power poll unless one
// was configured, and a fixed port when the configuration asks for any
// free one, so that the lab can print its URL.
func labConfig(cfg config.Config) (config.Config, error) {
	if cfg.Power.PollInterval == config.Default().Power.PollInterval {
		cfg.Power.PollInterval = PollInterval
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return cfg, fmt.Errorf("lab: listen address %q: %w", cfg.Listen, err)
	}
	if port == "0" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return cfg, fmt.Errorf("lab: find a free port on %s: %w", host, err)
		}
		cfg.Listen = ln.Addr().String()
		ln.Close()
	}
	return cfg, nil
}

// baseURL is where a local client reaches the API: an unspecified listen
// address (0.0.0.0, ::) is reached on loopback.
func baseURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ensureDemoUser creates the demo @user once, keeping its generated
// password in the data dir until it is changed. It returns the user's id
// and the password to print ("" once it was changed).
func ensureDemoUser(ctx context.Context, cfg config.Config, db *store.DB, log *slog.Logger) (int64, string, error) {
	a := auth.NewService(db.Auth(), auth.Options{Log: log})
	file := filepath.Join(cfg.DataDir, demoPasswordFile)
	users, _, err := a.ListUsers(ctx, listq.Query{Where: eqStr("email", DemoEmail), Limit: 1})
	if err != nil {
		return 0, "", fmt.Errorf("lab: look up the demo user: %w", err)
	}
	if len(users) == 1 {
		b, err := os.ReadFile(file)
		if pw := strings.TrimSpace(string(b)); err == nil && a.PasswordWorks(ctx, DemoEmail, pw) {
			return users[0].ID, pw, nil
		}
		_ = os.Remove(file) // changed since: stale
		return users[0].ID, "", nil
	}
	pw := auth.GeneratePassword()
	email, role := DemoEmail, auth.RoleUser
	name := "Demo Customer"
	u, err := a.CreateUser(ctx, auth.UserInput{Email: &email, Password: &pw, Role: &role, FullName: &name})
	if err != nil {
		return 0, "", fmt.Errorf("lab: create the demo user: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err == nil {
		if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
			log.Warn("could not keep the demo user's password", "err", err)
		}
	}
	return u.ID, pw, nil
}

func printLab(out io.Writer, lay layout, s *sims, res seeded, demoPW string) {
	fmt.Fprintf(out, "dcimd lab: %d simulated servers in %d racks of %q", lay.servers, lay.racks, locationName)
	if res.created > 0 {
		fmt.Fprintf(out, " (%d inventory objects created)", res.created)
	}
	fmt.Fprintln(out)
	b := s.bmcs[0]
	fmt.Fprintf(out, "  BMCs: one per server, IPMI v2 lanplus (cipher suites 3 and 17) on loopback ports, user %s password %s;\n",
		b.User(), b.Password())
	fmt.Fprintf(out, "        %s: ipmitool -I lanplus -C 17 -H %s -p %d -U %s -P %s chassis power status\n",
		serverName(0), b.Host(), b.Port(), b.User(), b.Password())
	p := s.pdus[0]
	fmt.Fprintf(out, "  PDUs: one APC rPDU per rack over SNMP v2c; outlet n feeds the rack's n-th server (switching it off cuts the BMC too);\n")
	fmt.Fprintf(out, "        %s: snmpwalk -v2c -c %s %s %s\n", pduName(0), p.Community(), p.Addr(), pdusim.StatusStateOID)
	sw := s.switches[0]
	fmt.Fprintf(out, "  Switches: one per rack over SNMP v2c; port n is the NIC of the rack's n-th server, port %d+n its BMC, %d and %d uplinks;\n",
		switchPorts/2, switchPorts+1, switchPorts+2)
	fmt.Fprintf(out, "        %s: snmpwalk -v2c -c %s %s %s   (ifOperStatus; ifAdminStatus %s is writable)\n",
		switchName(0), sw.Community(), sw.Addr(), switchsim.IfOperStatusOID, switchsim.IfAdminStatusOID)
	switch {
	case demoPW != "":
		fmt.Fprintf(out, "  demo @user: %s  password: %s  (kept in the data dir as %s until changed)\n", DemoEmail, demoPW, demoPasswordFile)
	default:
		fmt.Fprintf(out, "  demo @user: %s (password changed since it was created)\n", DemoEmail)
	}
}

// waitReady polls the API until it answers (the daemon prints its banner
// before it serves, so the try-this text comes after it).
func waitReady(ctx context.Context, url string) bool {
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func printTryThis(out io.Writer, cfg config.Config, url string, serverID int64) {
	email := cfg.AdminEmail
	if email == "" {
		email = "admin@example.com"
	}
	pw := "<admin password>"
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "initial-admin-password")); err == nil {
		pw = strings.TrimSpace(string(b))
	}
	fmt.Fprintf(out, `
Try it:
  URL=%[1]s
  TOKEN=$(curl -s -X POST $URL/api/auth/v4/public/token -d '{"email":"%[2]s","password":"%[3]s"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -s -H "x-xsrf-token: $TOKEN" "$URL/api/dci/v3/server?limit=2"; echo
  TASK=$(curl -s -H "x-xsrf-token: $TOKEN" -X POST $URL/api/dci/v3/server/%[4]d/power_reset -d '{}' | sed -E 's/.*"task":([0-9]+).*/\1/')
  curl -s -H "x-xsrf-token: $TOKEN" $URL/api/dci/v3/task/$TASK; echo
Power states are polled every %[5]s. Stop the lab with Ctrl-C.
`, url, email, pw, serverID, cfg.Power.PollInterval)
}
