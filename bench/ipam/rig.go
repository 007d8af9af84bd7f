package main

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"time"

	"github.com/riverqueue/river"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/dcimd/dcimd/internal/api"
	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/ipam"
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

// rig is one fresh database with dcimd on it as `dcimd serve` builds it:
// the store, the task engine with the address tasks on River (config
// defaults: 50 workers, 200 ms fetch poll), and the API on 127.0.0.1.
type rig struct {
	dialect string
	db      *store.DB
	eng     *task.Engine
	runner  *store.Runner
	hs      *httptest.Server
	token   string // one admin session, shared by the simulated clients
	servers []int64
	dbCPU   dbCPU
}

func newRig(ctx context.Context, dialect, dbURL, sqlitePath string, nServers int, verbose bool) (_ *rig, err error) {
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
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	db, err := store.Open(ctx, store.Options{URL: dbURL, SQLitePath: sqlitePath, MaxOpenConns: def.DB.MaxOpenConns,
		BusyTimeout: def.DB.SQLiteBusyTimeout, Box: box, Log: log})
	if err != nil {
		return nil, err
	}
	rg := &rig{dialect: dialect, db: db}
	defer func() {
		if err != nil {
			rg.close()
		}
	}()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	rg.dbCPU = newDBCPU(ctx, rg)
	// The engine as internal/app/tasks.go builds it, with the address
	// kinds (the only ones this benchmark submits).
	rg.eng = task.New(db.Tasks(), db.Tasks(), log, nil)
	ops.RegisterIP(rg.eng, db.IPAM(), def.Tasks.MaxAttempts, log)
	workers := river.NewWorkers()
	river.AddWorker(workers, rg.eng.NewWorker(def.Tasks.AttemptTimeout))
	rg.runner, err = db.NewRunner(ctx, store.RunnerOptions{Workers: workers, MaxWorkers: def.Tasks.Workers,
		FetchPoll: def.Tasks.PollInterval, RescueAfter: def.Tasks.RescueAfter, Log: log})
	if err != nil {
		return nil, err
	}
	rg.eng.SetQueue(rg.runner)
	if err := rg.runner.Start(ctx); err != nil {
		return nil, err
	}

	as := auth.NewService(db.Auth(), auth.Options{DefaultTTL: def.Auth.TokenTTL, FailuresPerAccount: 10, FailuresPerAddress: 1000,
		FailureWindow: 15 * time.Minute, Log: log})
	if _, err := as.EnsureAdmin(ctx, adminEmail, adminPass); err != nil {
		return nil, err
	}
	inv := server.NewService(db.Inventory())
	h, err := api.New(api.Deps{Auth: as, Inventory: inv, IPs: db.IPs(), DB: db, Tasks: rg.eng, TaskReader: db.Tasks(),
		IPAM: db.IPAM(), Log: log})
	if err != nil {
		return nil, err
	}
	rg.hs = httptest.NewServer(h) // 127.0.0.1, a free port
	cl := rg.client()
	if err := cl.Login(ctx, adminEmail, adminPass); err != nil {
		return nil, err
	}
	rg.token = cl.Token
	cl.HC.CloseIdleConnections()

	for i := range nServers {
		s := server.Server{Name: fmt.Sprintf("bench-%03d", i), State: server.StateOK, PowerStatus: "unknown"}
		if err := db.Inventory().Servers.Create(ctx, &s); err != nil {
			return nil, fmt.Errorf("create server: %w", err)
		}
		rg.servers = append(rg.servers, s.ID)
	}
	return rg, nil
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

// client is a new simulated API client: its own keep-alive connection,
// the shared admin session.
func (rg *rig) client() *benchkit.Client {
	return &benchkit.Client{Base: rg.hs.URL, HC: benchkit.OneConn(), Token: rg.token}
}

// newNet stores an IPv4 or IPv6 network with its gateway at the first
// usable address, through the store (what POST /ip/v3/ipnet calls).
func (rg *rig) newNet(ctx context.Context, cidr string) (ipam.Net, error) {
	p, err := ipam.ParsePrefix(cidr)
	if err != nil {
		return ipam.Net{}, err
	}
	u, _ := ipam.Usable(p)
	n := ipam.Net{Name: cidr, Gateway: u.First.String()}
	if err := rg.db.IPAM().CreateNet(ctx, &n); err != nil {
		return ipam.Net{}, fmt.Errorf("create network %s: %w", cidr, err)
	}
	return n, nil
}

// newPool stores a pool of one range.
func (rg *rig) newPool(ctx context.Context, name, rng string) (int64, error) {
	p := ipam.Pool{Name: name}
	if err := rg.db.IPAM().CreatePool(ctx, &p, []string{rng}); err != nil {
		return 0, fmt.Errorf("create pool %s: %w", name, err)
	}
	return p.ID, nil
}

// tasksDone counts ip_allocate tasks complete and not (yet) complete.
func (rg *rig) tasksDone(ctx context.Context) (done, open int64, err error) {
	err = rg.db.SQL().QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN status = 'complete' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status IN ('created', 'running') THEN 1 ELSE 0 END), 0)
		FROM tasks WHERE name = '`+ops.KindIPAllocate+`'`).Scan(&done, &open)
	return done, open, err
}

// waitTasks waits until no ip_allocate task is open (at most d) and
// returns when the last one completed, as the database saw it.
func (rg *rig) waitTasks(ctx context.Context, d time.Duration) (time.Time, error) {
	deadline := time.Now().Add(d)
	for {
		done, open, err := rg.tasksDone(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if open == 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d ip_allocate tasks still open after %v (%d complete)", open, d, done)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// post sends a JSON body and decodes {"id"[, "task"]} from a 200.
func post(ctx context.Context, c *benchkit.Client, path string, body []byte) (id, taskID int64, err error) {
	st, raw, err := c.Do(ctx, "POST", path, body)
	if err != nil {
		return 0, 0, err
	}
	if st != 200 {
		return 0, 0, fmt.Errorf("POST %s: status %d: %.300s", path, st, raw)
	}
	var v struct {
		ID   int64 `json:"id"`
		Task int64 `json:"task"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.ID == 0 {
		return 0, 0, fmt.Errorf("POST %s: no id in %.300s", path, raw)
	}
	return v.ID, v.Task, nil
}
