// Package pgtest runs throwaway PostgreSQL servers for Go tests.
//
// A Cluster is a real PostgreSQL server, initialised with initdb into a fresh
// directory under os.TempDir() (named "dcimd-pgtest-*"), listening on
// 127.0.0.1 and a free TCP port, with durability switched off for speed.
// Tests normally use URL, which hands out a fresh database in a cluster
// shared by the whole test binary; the package's TestMain should call
// StopShared after m.Run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pgtest.StopShared()
//		os.Exit(code)
//	}
//
// The binaries are taken from /usr/lib/postgresql/15/bin, or from the
// directory named by the DCIMD_TEST_PG_BIN environment variable. When the
// test process runs as root, initdb and postgres run as the "postgres"
// system user, since PostgreSQL refuses to run as root.
//
// If a test binary dies without stopping its clusters, the servers are left
// running; Start calls Reap first, which stops and removes clusters whose
// owning process is gone.
//
// The package is meant for Linux: it relies on /proc and POSIX signals.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// defaultBinDir holds the PostgreSQL binaries unless DCIMD_TEST_PG_BIN says otherwise.
	defaultBinDir = "/usr/lib/postgresql/15/bin"
	// binDirEnv names the environment variable overriding defaultBinDir.
	binDirEnv = "DCIMD_TEST_PG_BIN"
	// dirPrefix starts the name of every cluster directory under os.TempDir().
	dirPrefix = "dcimd-pgtest-"
	// ownerFileName records, inside a cluster directory, the PID of the process owning it.
	ownerFileName = "owner.pid"
	// logFileName is the server log inside a cluster directory.
	logFileName = "postgres.log"
	// superuser is both the database superuser and, when running as root, the OS user.
	superuser = "postgres"

	initdbTimeout  = 2 * time.Minute
	startTimeout   = 30 * time.Second
	stopTimeout    = 10 * time.Second
	startAttempts  = 3
	logTailLines   = 30
	maxSocketPath  = 100 // sun_path is 108 bytes; keep a margin
	adminPoolConns = 4
)

// errStopped is returned by Cluster methods called after Stop.
var errStopped = errors.New("pgtest: cluster is stopped")

// dbCounter makes database names unique within the process.
var dbCounter atomic.Uint64

// Cluster is one running PostgreSQL server in a temp directory, on 127.0.0.1 and a free TCP port.
type Cluster struct {
	dir     string // temp dir holding everything below
	dataDir string // PGDATA
	logPath string // server log
	binDir  string
	run     *runner
	port    int
	pid     int // postmaster PID, 0 until known

	mu      sync.Mutex
	pool    *pgxpool.Pool // connections to the "postgres" database
	stopped bool

	stopOnce sync.Once
	stopErr  error
}

// Start initdb's a new cluster into a fresh temp dir (auth trust, fsync=off, synchronous_commit=off, full_page_writes=off,
// max_connections=200, listen on 127.0.0.1 only, unix socket dir inside the temp dir, a free port), starts it and waits until it accepts connections (timeout ~30 s).
//
// It calls Reap first to clean up clusters orphaned by dead test processes.
// The server log is the file postgres.log in the temp dir; if the server
// fails to start, the error includes its last lines. On failure nothing is
// left running and the temp dir is removed.
func Start() (*Cluster, error) {
	Reap()
	if ok, why := Available(); !ok {
		return nil, errors.New("pgtest: " + why)
	}
	run, err := currentRunner()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: creating cluster dir: %w", err)
	}
	c := &Cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, logFileName),
		binDir:  binDir(),
		run:     run,
	}
	fail := func(err error) (*Cluster, error) {
		if serr := c.Stop(); serr != nil {
			err = fmt.Errorf("%w (cleanup: %v)", err, serr)
		}
		return nil, err
	}
	if err := writeOwner(dir); err != nil {
		return fail(err)
	}
	if run.cred != nil {
		if err := os.Chown(dir, int(run.cred.Uid), int(run.cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: chown %s to %s: %w", dir, superuser, err))
		}
	}
	if err := c.initdb(); err != nil {
		return fail(err)
	}
	if err := c.writeConfig(); err != nil {
		return fail(err)
	}

	deadline := time.Now().Add(startTimeout)
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		retry, err := c.startServer(port, deadline)
		if err == nil {
			c.port = port
			break
		}
		if !retry || attempt == startAttempts || time.Now().After(deadline) {
			return fail(err)
		}
	}
	c.pid = readPostmasterPID(c.dataDir)

	if err := c.waitReady(deadline); err != nil {
		return fail(err)
	}
	return c, nil
}

// initdb creates the data directory.
func (c *Cluster) initdb() error {
	ctx, cancel := context.WithTimeout(context.Background(), initdbTimeout)
	defer cancel()
	out, err := c.run.output(ctx, c.dir, filepath.Join(c.binDir, "initdb"),
		"-D", c.dataDir, "-U", superuser, "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return nil
}

// writeConfig appends the test settings to postgresql.conf.
func (c *Cluster) writeConfig() error {
	sockDir := filepath.Join(c.dir, "sock")
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if c.run.cred != nil {
		if err := os.Chown(sockDir, int(c.run.cred.Uid), int(c.run.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	if len(sockDir)+len("/.s.PGSQL.65535") > maxSocketPath {
		// A socket path that does not fit sun_path would make postgres
		// fail; we only ever connect over TCP, so do without the socket.
		sockDir = ""
	}
	conf := strings.Join([]string{
		"",
		"# added by pgtest",
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = " + confQuote(sockDir),
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 200",
		"logging_collector = off",
		"",
	}, "\n")
	f, err := os.OpenFile(filepath.Join(c.dataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return fmt.Errorf("pgtest: writing postgresql.conf: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pgtest: writing postgresql.conf: %w", err)
	}
	return nil
}

// startServer runs pg_ctl start on port. retry reports whether the failure
// looks like the port having been taken meanwhile.
func (c *Cluster) startServer(port int, deadline time.Time) (retry bool, err error) {
	logStart := fileSize(c.logPath)
	wait := int(time.Until(deadline).Seconds())
	if wait < 1 {
		wait = 1
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(5*time.Second))
	defer cancel()
	out, err := c.run.output(ctx, c.dir, filepath.Join(c.binDir, "pg_ctl"),
		"start", "-D", c.dataDir, "-l", c.logPath, "-w", "-t", strconv.Itoa(wait), "-s",
		"-o", "-p "+strconv.Itoa(port))
	if err == nil {
		return false, nil
	}
	logText := readFrom(c.logPath, logStart)
	retry = strings.Contains(logText, "Address already in use") ||
		strings.Contains(logText, "could not create any TCP/IP sockets")
	return retry, fmt.Errorf("pgtest: pg_ctl start (port %d): %w\n%s\n--- last lines of the server log (%s) ---\n%s",
		port, err, bytes.TrimSpace(out), c.logPath, lastLines(logText, logTailLines))
}

// waitReady opens the admin pool and pings the server until it answers.
func (c *Cluster) waitReady(deadline time.Time) error {
	cfg, err := pgxpool.ParseConfig(c.databaseURL("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	cfg.MaxConns = adminPoolConns
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	c.mu.Lock()
	c.pool = pool
	c.mu.Unlock()

	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = pool.Ping(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: server on port %d does not accept connections: %w\n--- last lines of the server log (%s) ---\n%s",
				c.port, err, c.logPath, lastLines(readFrom(c.logPath, 0), logTailLines))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server it started (pg_ctl stop -m immediate, then kill its postmaster PID if still alive) and removes the temp dir. Safe to call twice.
//
// Calls after the first return the first call's result. If the postmaster
// cannot be stopped, the temp dir is kept so that a later Reap can retry.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.stopped = true
		pool := c.pool
		c.pool = nil
		c.mu.Unlock()
		if pool != nil {
			pool.Close()
		}
		var errs []error
		if err := stopPostmaster(c.run, c.binDir, c.dataDir, c.pid); err != nil {
			errs = append(errs, err)
		} else if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: removing %s: %w", c.dir, err))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// NewDatabase creates a fresh empty database with a unique name and returns its URL
// "postgres://postgres@127.0.0.1:<port>/<name>?sslmode=disable".
//
// The database lives until the cluster stops; URL drops its databases itself.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	_, url, err := c.newDatabase(ctx)
	return url, err
}

// newDatabase is NewDatabase also returning the database name.
func (c *Cluster) newDatabase(ctx context.Context) (name, url string, err error) {
	pool, err := c.adminPool()
	if err != nil {
		return "", "", err
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", "", fmt.Errorf("pgtest: %w", err)
	}
	name = fmt.Sprintf("pgtest_%d_%s", dbCounter.Add(1), hex.EncodeToString(rnd[:]))
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("pgtest: creating database %s: %w", name, err)
	}
	return name, c.databaseURL(name), nil
}

// dropDatabase drops the database name, disconnecting any sessions still using it.
func (c *Cluster) dropDatabase(ctx context.Context, name string) error {
	pool, err := c.adminPool()
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: dropping database %s: %w", name, err)
	}
	return nil
}

// adminPool returns the pool connected to the "postgres" database.
func (c *Cluster) adminPool() (*pgxpool.Pool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.pool == nil {
		return nil, errStopped
	}
	return c.pool, nil
}

// databaseURL is the URL of database name in this cluster.
func (c *Cluster) databaseURL(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.port, name)
}

// Available reports whether the binaries exist (and why not).
//
// It checks initdb, pg_ctl and postgres in /usr/lib/postgresql/15/bin or in
// $DCIMD_TEST_PG_BIN, and, when running as root, that the "postgres" user
// exists to run them.
func Available() (bool, string) {
	dir := binDir()
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return false, fmt.Sprintf("PostgreSQL binary %s not found (set %s to the bin dir): %v", p, binDirEnv, err)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false, fmt.Sprintf("PostgreSQL binary %s is not executable", p)
		}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup(superuser); err != nil {
			return false, fmt.Sprintf("running as root, and PostgreSQL needs a %q system user to run as: %v", superuser, err)
		}
	}
	return true, ""
}

// binDir is the directory holding the PostgreSQL binaries.
func binDir() string {
	if d := os.Getenv(binDirEnv); d != "" {
		return d
	}
	return defaultBinDir
}

// runner runs PostgreSQL programs, as the postgres user when we are root.
type runner struct {
	cred *syscall.Credential // nil: run as ourselves
}

// currentRunner returns the runner suitable for this process.
func currentRunner() (*runner, error) {
	if os.Geteuid() != 0 {
		return &runner{}, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and cannot find the %q user: %w", superuser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: uid of %q: %w", superuser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: gid of %q: %w", superuser, err)
	}
	return &runner{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// output runs prog in dir and returns its combined output.
func (r *runner) output(ctx context.Context, dir, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	if r.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Should a daemonised child keep our pipe open, do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// childEnv is our environment without libpq/PostgreSQL variables, in the C locale.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	return port, nil
}

// confQuote quotes s as a postgresql.conf string value.
func confQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// fileSize returns the size of the file at path, 0 if unknown.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the file at path from byte offset on, or "" if unreadable.
func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
