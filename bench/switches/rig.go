package main

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/api"
	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/netsw/snmpopen"
	"github.com/dcimd/dcimd/internal/ops"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
)

const (
	adminEmail = "admin@example.com"
	adminPass  = "bench-admin-password-1"
)

// rig is one fresh database with dcimd on it as `dcimd serve` builds it
// (internal/app/tasks.go and switches.go, config defaults): the switch
// service on the SNMP driver, the task engine with the switch kinds on
// River, the API on 127.0.0.1; and the inventory of the fleet.
type rig struct {
	dialect string
	db      *store.DB
	log     *slog.Logger
	open    netsw.Opener
	nsvc    *netsw.Service // the one the tasks use
	poll    *netsw.Service // the same over a store that notes when each switch's poll ends
	poll1   *netsw.Service // the same, one switch at a time
	timed   *timedStore
	eng     *task.Engine
	rec     *recorder
	states  *stateWatch
	runner  *store.Runner
	hs      *httptest.Server
	token   string

	switchIDs []int64 // by switch index
	serverIDs []int64 // by server index
}

func newRig(ctx context.Context, dialect, dbURL, sqlitePath string, f *fleet, verbose bool) (_ *rig, err error) {
	def := config.Default()
	key := make([]byte, 32)
	if _, err := crand.Read(key); err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	db, err := store.Open(ctx, store.Options{URL: dbURL, SQLitePath: sqlitePath, MaxOpenConns: def.DB.MaxOpenConns,
		BusyTimeout: def.DB.SQLiteBusyTimeout, Box: box, Log: log})
	if err != nil {
		return nil, err
	}
	rg := &rig{dialect: dialect, db: db, log: log}
	defer func() {
		if err != nil {
			rg.close()
		}
	}()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}

	// As internal/app: snmpopen with the configured call timeout and one
	// retry, the service with the configured switch timeout and poll
	// concurrency, the switch task kinds with the configured step timeout.
	sw := def.Switches
	rg.open = snmpopen.Opener(snmpopen.Options{CallTimeout: sw.CallTimeout, Retries: 1, Log: log})
	nopts := netsw.Options{SwitchTimeout: sw.SwitchTimeout, PollConcurrency: sw.PollConcurrency, Log: log}
	rg.nsvc = netsw.NewService(db.SwitchPorts(), rg.open, nopts)
	rg.timed = &timedStore{Store: db.SwitchPorts()}
	rg.poll = netsw.NewService(rg.timed, rg.open, nopts)
	one := nopts
	one.PollConcurrency = 1
	rg.poll1 = netsw.NewService(rg.timed, rg.open, one)

	rg.rec = newRecorder(db.Tasks())
	rg.states = &stateWatch{inner: db.SwitchPorts()}
	rg.eng = task.New(rg.rec, db.Tasks(), log, nil)
	ops.RegisterNet(rg.eng, rg.nsvc, rg.states, ops.NetOptions{MaxAttempts: def.Tasks.MaxAttempts, StepTimeout: sw.SwitchTimeout, Log: log})
	workers := river.NewWorkers()
	river.AddWorker(workers, rg.eng.NewWorker(def.Tasks.AttemptTimeout))
	// No periodic jobs: the switch poll is timed by itself below.
	rg.runner, err = db.NewRunner(ctx, store.RunnerOptions{Workers: workers, MaxWorkers: def.Tasks.Workers,
		FetchPoll: def.Tasks.PollInterval, RescueAfter: def.Tasks.RescueAfter, Log: log})
	if err != nil {
		return nil, err
	}
	rg.eng.SetQueue(rg.runner)
	// River's services stop with Stop, not with ctx.
	if err := rg.runner.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}

	as := auth.NewService(db.Auth(), auth.Options{DefaultTTL: def.Auth.TokenTTL, FailuresPerAccount: 10, FailuresPerAddress: 1000,
		FailureWindow: 15 * time.Minute, Log: log})
	if _, err := as.EnsureAdmin(ctx, adminEmail, adminPass); err != nil {
		return nil, err
	}
	inv := server.NewService(db.Inventory())
	h, err := api.New(api.Deps{Auth: as, Inventory: inv, IPs: db.IPs(), DB: db, Tasks: rg.eng, TaskReader: db.Tasks(),
		Switches: rg.nsvc, States: db.SwitchPorts(), Log: log})
	if err != nil {
		return nil, err
	}
	rg.hs = httptest.NewServer(h) // 127.0.0.1, a free port
	cl := &benchkit.Client{Base: rg.hs.URL, HC: benchkit.OneConn()}
	if err := cl.Login(ctx, adminEmail, adminPass); err != nil {
		return nil, err
	}
	rg.token = cl.Token
	cl.HC.CloseIdleConnections()

	t0 := time.Now()
	if err := rg.seed(ctx, inv, f); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("inventory: %d switch records, ports discovered, %d servers connected (%v)\n",
		len(rg.switchIDs), len(rg.serverIDs), time.Since(t0).Round(time.Millisecond))
	return rg, nil
}

// seed stores a switch record per simulator (127.0.0.1, v2c read-write,
// profile generic), discovers its ports with Refresh as the
// switch_refresh task does, and stores the servers with their
// connections (data port, IPMI port).
func (rg *rig) seed(ctx context.Context, inv *server.Service, f *fleet) error {
	ports := make([]map[string]int64, len(f.sws)) // identity → port id, per switch
	for k, sim := range f.sws {
		v := server.Switch{Name: sim.Name(), Profile: "generic", SNMP: server.SNMPAccess{Address: sim.Host(), Port: sim.Port(),
			Version: "v2c", Community: secret.String(sim.Community())}}
		if err := v.Validate(); err != nil {
			return err
		}
		if err := inv.Switches.Create(ctx, &v); err != nil {
			return fmt.Errorf("create switch %s: %w", v.Name, err)
		}
		rg.switchIDs = append(rg.switchIDs, v.ID)
		res, err := rg.nsvc.Refresh(ctx, v.ID)
		if err != nil {
			return fmt.Errorf("refresh switch %s: %w", v.Name, err)
		}
		if res.Added != sim.Ports() {
			return fmt.Errorf("refresh switch %s: %d ports added, the simulator has %d", v.Name, res.Added, sim.Ports())
		}
		list, _, err := inv.SwitchPorts.List(ctx, listq.Query{Where: &listq.Compare{Field: "switch_id", Op: "EQ",
			Value: listq.Value{Kind: listq.KindInt, Int: v.ID}}, Limit: -1})
		if err != nil {
			return err
		}
		ports[k] = map[string]int64{}
		for _, p := range list {
			ports[k][p.Identity] = p.ID
		}
	}
	rg.timed.portSwitch, rg.timed.switchIndex = map[int64]int{}, map[int64]int{}
	for k, id := range rg.switchIDs {
		rg.timed.switchIndex[id] = k
	}
	for k := range ports {
		for _, id := range ports[k] {
			rg.timed.portSwitch[id] = k
		}
	}
	for i, p := range f.servers {
		s := server.Server{Name: fmt.Sprintf("bench-%03d", i+1), State: server.StateOK, PowerStatus: "unknown"}
		if err := inv.Servers.Create(ctx, &s); err != nil {
			return err
		}
		rg.serverIDs = append(rg.serverIDs, s.ID)
		for _, c := range []struct {
			idx  int
			ipmi bool
		}{{p.data, false}, {p.ipmi, true}} {
			if c.idx == 0 {
				continue
			}
			id, ok := ports[p.sw][fmt.Sprint(c.idx)]
			if !ok {
				return fmt.Errorf("switch %s has no port record for ifIndex %d", f.sws[p.sw].Name(), c.idx)
			}
			if err := inv.ConnectSwitchPort(ctx, &server.SwitchConnection{ServerID: s.ID, SwitchPortID: id, IsIPMIConnection: c.ipmi}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rg *rig) close() {
	if rg.hs != nil {
		rg.hs.Close()
	}
	if rg.runner != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := rg.runner.Stop(sctx); err != nil {
			fmt.Fprintf(os.Stderr, "stop runner: %v\n", err)
		}
		cancel()
	}
	rg.db.Close()
}

// httpClient is a burst of API clients: up to conns keep-alive
// connections, the shared admin session.
func (rg *rig) httpClient(conns int) *benchkit.Client {
	return &benchkit.Client{Base: rg.hs.URL, Token: rg.token, HC: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}}}
}

// dbCheck reads back from the database what a suspend or resume of every
// server must leave: every server in state, every data port's record
// admin down or up and every IPMI port's record admin up. It returns the
// differences.
func (rg *rig) dbCheck(ctx context.Context, state string, dataUp bool) []string {
	var out []string
	rows, err := rg.db.SQL().QueryContext(ctx, `SELECT state, count(*) FROM servers GROUP BY state`)
	if err != nil {
		return []string{fmt.Sprintf("read server states: %v", err)}
	}
	byState := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return []string{err.Error()}
		}
		byState[s] = n
	}
	rows.Close()
	if byState[state] != len(rg.serverIDs) {
		out = append(out, fmt.Sprintf("servers by state %v, want all %d %s", byState, len(rg.serverIDs), state))
	}
	rows, err = rg.db.SQL().QueryContext(ctx, `SELECT c.is_ipmi_connection, p.admin_status, count(*) FROM switch_ports p
		JOIN server_switch_connections c ON c.switch_port_id = p.id GROUP BY c.is_ipmi_connection, p.admin_status`)
	if err != nil {
		return append(out, fmt.Sprintf("read port records: %v", err))
	}
	defer rows.Close()
	want := map[bool]string{false: server.StatusDown, true: server.StatusUp}
	if dataUp {
		want[false] = server.StatusUp
	}
	for rows.Next() {
		var ipmi bool
		var admin string
		var n int
		if err := rows.Scan(&ipmi, &admin, &n); err != nil {
			return append(out, err.Error())
		}
		if admin != want[ipmi] {
			what := "data"
			if ipmi {
				what = "IPMI"
			}
			out = append(out, fmt.Sprintf("%d %s port records are admin %s in the database, want %s", n, what, admin, want[ipmi]))
		}
	}
	return out
}
