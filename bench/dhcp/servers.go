package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/netboot/dhcp4d"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

func servers(c *config) []target {
	out := []target{
		{name: "dcimd-sqlite", prepare: func(ctx context.Context) (func(context.Context) (*running, error), func(), error) {
			return prepareDcimd(ctx, c, "", filepath.Join(c.dir, "dcimd.db"))
		}},
		{name: "dcimd-postgres", prepare: func(ctx context.Context) (func(context.Context) (*running, error), func(), error) {
			cl, err := pgtest.Start()
			if err != nil {
				return nil, nil, err
			}
			stopCl := func() {
				if err := cl.Stop(); err != nil {
					fmt.Println("stop PostgreSQL cluster:", err)
				}
			}
			url, err := cl.NewDatabase(ctx)
			if err != nil {
				return nil, stopCl, err
			}
			inst, cleanup, err := prepareDcimd(ctx, c, url, "")
			return inst, func() {
				if cleanup != nil {
					cleanup()
				}
				stopCl()
			}, err
		}},
		{name: "kea", prepare: func(ctx context.Context) (func(context.Context) (*running, error), func(), error) {
			return preparePeer(c, "kea")
		}},
		{name: "dnsmasq", prepare: func(ctx context.Context) (func(context.Context) (*running, error), func(), error) {
			return preparePeer(c, "dnsmasq")
		}},
	}
	if ok, why := pgtest.Available(); !ok {
		out[1].skip = "PostgreSQL not available: " + why
	}
	if _, err := exec.LookPath("kea-dhcp4"); err != nil {
		out[2].skip = "kea-dhcp4 not installed (kea-dhcp4-server)"
	}
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		out[3].skip = "dnsmasq not installed (dnsmasq-base)"
	}
	return out
}

// prepareDcimd opens and migrates the database and stores one machine per
// perfdhcp MAC with an address from 198.18.0.0/16 (as in dhcp4d's
// perf_test.go); each run empties dhcp_leases and starts a fresh server.
func prepareDcimd(ctx context.Context, c *config, url, sqlitePath string) (func(context.Context) (*running, error), func(), error) {
	k := make([]byte, 32)
	rand.Read(k)
	box, err := secret.NewBox(k)
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, store.Options{URL: url, SQLitePath: sqlitePath, Box: box})
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { db.Close() }
	if _, err := db.Migrate(ctx); err != nil {
		return nil, cleanup, err
	}
	nw := ipam.Net{Name: "198.18.0.0/16", Gateway: srvAddr}
	if err := db.IPAM().CreateNet(ctx, &nw); err != nil {
		return nil, cleanup, err
	}
	for i, mac := range macs(c.clients) {
		s := server.Server{Name: fmt.Sprintf("perf%d", i), MAC: mac, State: server.StateOK, PowerStatus: server.StatusUnknown}
		if err := db.Inventory().Servers.Create(ctx, &s); err != nil {
			return nil, cleanup, err
		}
		if _, err := db.IPAM().Allocate(ctx, ipam.Alloc{NetID: nw.ID, ServerID: &s.ID, SetMain: true}); err != nil {
			return nil, cleanup, err
		}
	}
	hosts := db.DHCP()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return func(ctx context.Context) (*running, error) {
		if _, err := db.SQL().ExecContext(ctx, `DELETE FROM dhcp_leases`); err != nil {
			return nil, err
		}
		rec := newAckRecorder()
		s, err := dhcp4d.New(dhcp4d.Options{
			Interfaces: []dhcp4d.Interface{{Name: srvDev, Addr: netip.MustParseAddr(srvAddr)}},
			Subnets:    []dhcp4d.Subnet{{Prefix: netip.MustParsePrefix("198.18.0.0/16")}},
			Hosts:      hosts, Leases: hosts, Log: quiet, ListenPacket: listenIn(c.ns.srv, rec), Workers: c.workers,
		})
		if err != nil {
			return nil, err
		}
		if err := s.Start(ctx); err != nil {
			return nil, err
		}
		var ru0 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		r := &running{}
		r.stop = func() (time.Duration, error) {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Shutdown(sctx)
			var ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
			return cpu, err
		}
		r.verify = func() string { return verifyLeases(db, rec) }
		r.stats = func() string {
			st := s.Stats()
			var by []string
			for k, v := range st.DropsBy {
				by = append(by, fmt.Sprintf("%s=%d", k, v))
			}
			sort.Strings(by)
			return fmt.Sprintf("offers %d acks %d naks %d drops %d %s", st.Offers, st.Acks, st.Naks, st.Drops, strings.Join(by, " "))
		}
		return r, nil
	}, cleanup, nil
}

// verifyLeases checks, after the server stopped, that every client acked
// has its bound lease row: rows in state bound = distinct clients acked,
// and each acked (MAC, address) is one of them.
func verifyLeases(db *store.DB, rec *ackRecorder) string {
	ctx := context.Background()
	rows, err := db.SQL().QueryContext(ctx, `SELECT mac, ip, state FROM dhcp_leases`)
	if err != nil {
		return "error: " + err.Error()
	}
	defer rows.Close()
	bound := map[string]string{}
	total := 0
	for rows.Next() {
		var mac, ip, state string
		if err := rows.Scan(&mac, &ip, &state); err != nil {
			return "error: " + err.Error()
		}
		total++
		if state == "bound" {
			bound[strings.ToLower(mac)] = ip
		}
	}
	if err := rows.Err(); err != nil {
		return "error: " + err.Error()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	missing := 0
	for mac, ip := range rec.acks {
		m := net.HardwareAddr(mac[:]).String()
		if bound[m] != netip.AddrFrom4(ip).String() {
			missing++
		}
	}
	msg := fmt.Sprintf("%d bound rows (%d rows) / %d distinct clients acked (%d ACKs)", len(bound), total, len(rec.acks), rec.n)
	if missing > 0 || len(bound) != len(rec.acks) {
		return fmt.Sprintf("MISMATCH %s, %d acked leases without their row", msg, missing)
	}
	return "ok " + msg
}

const keaConf = `{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "%s" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "%s", "lfc-interval": 0 },
    "valid-lifetime": 3600, "renew-timer": 1800, "rebind-timer": 3150,
    "subnet4": [
      { "id": 1, "subnet": "198.18.0.0/16",
        "pools": [ { "pool": "198.18.1.0 - 198.18.255.254" } ],
        "option-data": [ { "name": "routers", "data": "198.18.0.1" } ] }
    ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "%s" } ], "severity": "WARN" } ]
  }
}
`

// dnsmasqConf is the harness's netboot/dnsmasq-dhcp.conf on this run's
// device and directory.
const dnsmasqConf = `port=0
no-resolv
no-hosts
no-daemon
interface=%s
bind-interfaces
dhcp-range=198.18.1.0,198.18.255.254,255.255.0.0,1h
dhcp-lease-max=200000
dhcp-leasefile=%s
dhcp-authoritative
no-ping
`

// preparePeer writes the peer's config; each run deletes its lease file
// and starts it fresh in the srv namespace.
func preparePeer(c *config, which string) (func(context.Context) (*running, error), func(), error) {
	d := filepath.Join(c.dir, which)
	if err := os.MkdirAll(d, 0o777); err != nil {
		return nil, nil, err
	}
	os.Chmod(d, 0o777) // dnsmasq writes its lease file as nobody
	leases := filepath.Join(d, "leases")
	conf := filepath.Join(d, "conf")
	var args []string
	switch which {
	case "kea":
		bin, _ := exec.LookPath("kea-dhcp4")
		os.WriteFile(conf, []byte(fmt.Sprintf(keaConf, srvDev, leases, filepath.Join(d, "kea.log"))), 0o644)
		args = []string{bin, "-c", conf}
	case "dnsmasq":
		bin, _ := exec.LookPath("dnsmasq")
		os.WriteFile(conf, []byte(fmt.Sprintf(dnsmasqConf, srvDev, leases)), 0o644)
		args = []string{bin, "--conf-file=" + conf}
	}
	return func(ctx context.Context) (*running, error) {
		for _, p := range []string{leases, leases + ".2", leases + ".1"} {
			os.Remove(p)
		}
		p, err := c.ns.startIn(filepath.Join(d, "out.log"), args...)
		if err != nil {
			return nil, err
		}
		time.Sleep(1200 * time.Millisecond) // the harness waits 1.5 s
		if p.exited() {
			b, _ := os.ReadFile(p.log)
			return nil, errors.New(which + " exited: " + lastLines(string(b), 3))
		}
		return &running{stop: p.stop}, nil
	}, nil, nil
}
