// Package app wires dcimd together: it is the one package that imports
// everything, starts services in order and stops them in reverse.
package app

import (
	"context"
	"errors"
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

	"github.com/dcimd/dcimd/internal/api"
	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/metrics"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
)

// Version is set at build time with -ldflags.
var Version = "dev"

// NewLogger builds the process logger from the config.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenDB opens and migrates the database named by the config.
func OpenDB(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*store.DB, error) {
	key, err := secret.LoadOrCreateKey(cfg.SecretKey, cfg.KeyFile())
	if err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), MaxOpenConns: cfg.DB.MaxOpenConns,
		BusyTimeout: cfg.DB.SQLiteBusyTimeout, Box: box, Log: log})
	if err != nil {
		return nil, err
	}
	if migrate {
		applied, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, err
		}
		for _, m := range applied {
			log.Info("migration applied", "migration", m)
		}
	}
	return db, nil
}

func newAuth(cfg config.Config, db *store.DB, log *slog.Logger) *auth.Service {
	return auth.NewService(db.Auth(), auth.Options{DefaultTTL: cfg.Auth.TokenTTL, FailuresPerAccount: cfg.Auth.LoginFailuresPerAccount,
		FailuresPerAddress: cfg.Auth.LoginFailuresPerAddress, FailureWindow: cfg.Auth.LoginWindow, Log: log})
}

// Serve runs the daemon until ctx ends, then shuts down gracefully.
// out receives the human-facing start banner (URL and first admin login).
func Serve(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	db, err := OpenDB(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close database", "err", err)
		}
		log.Info("database closed")
	}()
	authSvc := newAuth(cfg, db, log)
	pw, err := authSvc.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return err
	}
	inv := server.NewService(db.Inventory())
	eng, runner, closeDevices, err := startTasks(ctx, cfg, db, inv, log)
	if err != nil {
		return err
	}
	defer closeDevices()
	stopped := false
	stopTasks := func() {
		if stopped {
			return
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
		defer cancel()
		if err := runner.Stop(sctx); err != nil {
			log.Warn("stop task runner", "err", err)
		}
		log.Info("task runner stopped")
	}
	defer stopTasks()
	boot, err := startNetboot(ctx, cfg.Netboot, db, log)
	if err != nil {
		return err
	}
	defer boot.stop(log, cfg.HTTP.ShutdownTimeout)
	h, err := api.New(api.Deps{Auth: authSvc, Inventory: inv, IPs: db.IPs(), DB: db, Log: log,
		Tasks: eng.engine, TaskReader: db.Tasks(), Power: eng.power, IPAM: db.IPAM(), Switches: eng.switches, States: db.SwitchPorts(),
		SecureCookie: cfg.Auth.SecureCookie, TrustedProxies: cfg.HTTP.TrustedProxies,
		Metrics: metrics.Handler(metrics.NewCollector(db.SwitchPorts(), log), boot.collectors()...), MetricsToken: cfg.HTTP.MetricsToken,
		NetbootStatus: boot.Status})
	if err != nil {
		return err
	}
	// Booting machines reach /boot/ (iPXE scripts, images, phone-home)
	// without the API's sessions and body rules.
	mux := http.NewServeMux()
	mux.Handle("/boot/", boot.http)
	mux.Handle("/", h)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.HTTP.ReadTimeout,
		WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "dcimd %s listening on %s (API: %s/api/dci/v3/server)\n", Version, url, url)
	adminBanner(ctx, cfg, authSvc, pw, out, log)
	log.Info("dcimd started", "listen", ln.Addr().String(), "version", Version, "database", dbKind(cfg))

	var wg sync.WaitGroup
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() {
		defer wg.Done()
		pruneSessions(bg, authSvc, log)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopBG()
		wg.Wait()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	stopTasks()
	stopBG()
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("http server stopped")
	return nil
}

// adminBanner prints the first admin's login. A generated password is shown
// once and kept in <data dir>/initial-admin-password (mode 0600), so that a
// newcomer who restarts still finds it; the file goes away once the password
// has been changed.
func adminBanner(ctx context.Context, cfg config.Config, a *auth.Service, pw string, out io.Writer, log *slog.Logger) {
	email := cfg.AdminEmail
	if email == "" {
		email = "admin@example.com"
	}
	file := filepath.Join(cfg.DataDir, "initial-admin-password")
	switch {
	case pw != "" && cfg.AdminPassword != "":
		fmt.Fprintf(out, "created admin login: %s (password from the configuration)\n", email)
	case pw != "":
		if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
			log.Warn("could not keep the initial admin password", "err", err)
		}
		fmt.Fprintf(out, "created admin login: %s  password: %s  (shown once, kept in %s until you change it)\n", email, pw, file)
	default:
		b, err := os.ReadFile(file)
		if err != nil {
			return
		}
		if a.PasswordWorks(ctx, email, strings.TrimSpace(string(b))) {
			fmt.Fprintf(out, "admin login: %s  initial password in %s\n", email, file)
			return
		}
		_ = os.Remove(file) // changed since: the file is stale
	}
}

func dbKind(cfg config.Config) string {
	if cfg.DatabaseURL == "" {
		return "sqlite:" + cfg.SQLitePath()
	}
	return "postgres"
}

func pruneSessions(ctx context.Context, a *auth.Service, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.PruneSessions(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("prune sessions", "err", err)
			} else if n > 0 {
				log.Info("expired sessions pruned", "count", n)
			}
		}
	}
}

// CreateUser adds a user from the command line.
func CreateUser(ctx context.Context, cfg config.Config, log *slog.Logger, email, password, role string) (int64, error) {
	db, err := OpenDB(ctx, cfg, log, true)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	role = strings.TrimSpace(role)
	if !strings.HasPrefix(role, "@") {
		role = "@" + role
	}
	u, err := newAuth(cfg, db, log).CreateUser(ctx, auth.UserInput{Email: &email, Password: &password, Role: &role})
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// ErrorText is the one line printed for a failed command: client-facing
// messages as they are, anything else with its cause chain.
// Causes from libraries (drivers, parsers) may span lines; they are folded
// so that the message stays one line for scripts and journald.
func ErrorText(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
