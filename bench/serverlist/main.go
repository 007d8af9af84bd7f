// Command serverlist benchmarks the server list (GET /api/dci/v3/server)
// over 10,000 servers on SQLite and on PostgreSQL.
//
// For each database it bulk-loads an inventory (servers with IPs, switch
// connections, BMCs and owners), starts the real API in-process on
// 127.0.0.1, logs in as admin and times, over plain HTTP:
//
//   - a filtered, ordered page of 100 (limit=0,100),
//   - the same page at a deep offset (limit=5000,100),
//   - the full, unpaged list,
//
// and counts the database queries one request of each kind makes. It prints
// a table against the targets (page of 100 under 20 ms median, full list
// under 1.5 s median). It is a benchmark, not a test: a miss is reported,
// not fatal.
//
// Run it with `make bench` or `go run ./bench/serverlist [flags]`. The
// PostgreSQL cluster is a throwaway one (internal/testutil/pgtest), stopped
// at the end, also on error or interrupt.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dcimd/dcimd/internal/api"
	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

const (
	adminEmail = "admin@example.com"
	adminPass  = "bench-admin-password-1"

	pageTarget = 20 * time.Millisecond
	fullTarget = 1500 * time.Millisecond

	// inChunk mirrors internal/store's IN-list chunk: the full list repeats
	// the related-row batches of a page once per chunk of ids.
	inChunk = 1000
)

// The page every DCImanager client opens first: free, not-new servers,
// newest first.
const pageWhere = "(owner_email IS null) AND is_new EQ false"

type config struct {
	servers   int
	pageIters int
	fullIters int
	budget    time.Duration
	dialects  []string
	cpuprof   string
	hold      time.Duration
	pgset     []string // name=value settings for the PostgreSQL database
}

func main() {
	var c config
	var dialects string
	flag.IntVar(&c.servers, "servers", 10000, "servers to load")
	flag.IntVar(&c.pageIters, "page-iters", 200, "timed requests per page case")
	flag.IntVar(&c.fullIters, "full-iters", 10, "timed requests of the full list")
	flag.DurationVar(&c.budget, "budget", 60*time.Second, "wall-clock cap per case (fewer iterations if reached)")
	flag.StringVar(&dialects, "db", "sqlite,postgres", "databases to run on, comma separated")
	flag.StringVar(&c.cpuprof, "cpuprofile", "", "write CPU profiles of the timed requests to FILE-<db>-<case>.pprof")
	pgset := flag.String("pgset", "", "PostgreSQL settings for the benchmark database, e.g. random_page_cost=1.1 (comma separated)")
	flag.DurationVar(&c.hold, "hold", 0, "after loading, print where the database is and wait this long (to inspect it)")
	flag.Parse()
	for _, d := range strings.Split(dialects, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.dialects = append(c.dialects, d)
		}
	}
	for _, kv := range strings.Split(*pgset, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			c.pgset = append(c.pgset, kv)
		}
	}
	os.Exit(run(c))
}

func run(c config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("server list benchmark: %d servers (2 IPs, 2 switch connections each), %s, GOMAXPROCS=%d, load average %s\n",
		c.servers, runtime.Version(), runtime.GOMAXPROCS(0), benchkit.LoadAvg())
	var results []result
	failed := false
	for _, d := range c.dialects {
		rs, err := runDialect(ctx, c, d)
		results = append(results, rs...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", d, err)
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	printTable(os.Stdout, c, results)
	if failed {
		return 1
	}
	return 0
}

// result is one measured case.
type result struct {
	dialect string
	name    string
	iters   int
	median  time.Duration
	p95     time.Duration
	queries int64 // per request
	authQ   int64 // of which authentication
	bytes   int
	target  time.Duration // 0: none
	load    time.Duration // load time of the dialect (on its first row only)
}

const (
	casePage = "page of 100"
	caseDeep = "page of 100 at offset 5000"
	caseFull = "full list"
)

// runDialect loads, serves and measures one database.
func runDialect(ctx context.Context, c config, dialect string) (_ []result, err error) {
	fmt.Printf("\n== %s\n", dialect)
	var dbURL, sqlitePath string
	switch dialect {
	case "sqlite":
		dir, err := os.MkdirTemp("", "dcimd-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		sqlitePath = filepath.Join(dir, "dcimd.db")
	case "postgres":
		if ok, why := pgtest.Available(); !ok {
			return nil, fmt.Errorf("PostgreSQL is not available: %s", why)
		}
		t0 := time.Now()
		cluster, serr := pgtest.Start()
		if serr != nil {
			return nil, serr
		}
		defer func() { // after the API and the pool are closed (defers run last in, first out)
			if serr := cluster.Stop(); serr != nil {
				err = errors.Join(err, fmt.Errorf("stop PostgreSQL cluster: %w", serr))
			}
		}()
		if dbURL, err = cluster.NewDatabase(ctx); err != nil {
			return nil, err
		}
		if err := pgSettings(ctx, dbURL, c.pgset); err != nil {
			return nil, err
		}
		fmt.Printf("cluster started in %v\n", time.Since(t0).Round(time.Millisecond))
	default:
		return nil, fmt.Errorf("unknown database %q (want sqlite or postgres)", dialect)
	}

	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, store.Options{URL: dbURL, SQLitePath: sqlitePath, Box: box, Log: quiet})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}

	as := auth.NewService(db.Auth(), auth.Options{DefaultTTL: time.Hour, FailuresPerAccount: 10, FailuresPerAddress: 1000,
		FailureWindow: 15 * time.Minute, Log: quiet})
	if _, err := as.EnsureAdmin(ctx, adminEmail, adminPass); err != nil {
		return nil, err
	}

	t0 := time.Now()
	ld, err := load(ctx, db, c.servers)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	loadTime := time.Since(t0)
	fmt.Printf("loaded %d servers, %d IPs, %d switch connections, %d BMCs, %d owned, in %v\n",
		c.servers, ld.ips, ld.conns, ld.bmcs, ld.owned, loadTime.Round(time.Millisecond))
	fmt.Printf("  %s\n", ld.steps)

	if c.hold > 0 {
		fmt.Printf("holding %v: database %s%s\n", c.hold, dbURL, sqlitePath)
		select {
		case <-time.After(c.hold):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	h, err := api.New(api.Deps{Auth: as, Inventory: server.NewService(db.Inventory()), IPs: db.IPs(), DB: db, Log: quiet})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(h) // 127.0.0.1, a free port
	defer srv.Close()
	cl := &client{benchkit.Client{Base: srv.URL, HC: &http.Client{Transport: &http.Transport{DisableCompression: true,
		MaxIdleConnsPerHost: 4}, Timeout: 2 * time.Minute}}}
	defer cl.HC.CloseIdleConnections()
	if err := cl.Login(ctx, adminEmail, adminPass); err != nil {
		return nil, err
	}

	pageQ := url.Values{"where": {pageWhere}, "orderby": {"id desc"}, "limit": {"0,100"}}
	deepQ := url.Values{"where": {pageWhere}, "orderby": {"id desc"}, "limit": {"5000,100"}}
	cases := []struct {
		name   string
		path   string
		iters  int
		warm   int
		target time.Duration
		rows   int // rows the answer must hold
		size   int // total it must report
	}{
		{casePage, "/api/dci/v3/server?" + pageQ.Encode(), c.pageIters, 20, pageTarget, 100, ld.free},
		{caseDeep, "/api/dci/v3/server?" + deepQ.Encode(), c.pageIters, 20, 0, min(100, max(0, ld.free-5000)), ld.free},
		{caseFull, "/api/dci/v3/server", c.fullIters, 2, fullTarget, c.servers, c.servers},
	}

	// The queries a request makes to authenticate (the session lookup).
	authQ, err := countQueries(ctx, db, cl, "/api/auth/v4/whoami")
	if err != nil {
		return nil, err
	}
	var out []result
	for i, k := range cases {
		// Check the answer once and warm up.
		body, err := cl.get(ctx, k.path)
		if err != nil {
			return out, fmt.Errorf("%s: %w", k.name, err)
		}
		if err := checkList(body, k.rows, k.size, k.name != caseFull, k.name != caseFull); err != nil {
			return out, fmt.Errorf("%s: %w", k.name, err)
		}
		for range k.warm {
			if _, err := cl.get(ctx, k.path); err != nil {
				return out, fmt.Errorf("%s: %w", k.name, err)
			}
		}
		queries, err := countQueries(ctx, db, cl, k.path)
		if err != nil {
			return out, fmt.Errorf("%s: %w", k.name, err)
		}

		stopProfile, err := startProfile(c.cpuprof, dialect, k.name)
		if err != nil {
			return out, err
		}
		times := make([]time.Duration, 0, k.iters)
		deadline := time.Now().Add(c.budget)
		for n := 0; n < k.iters && time.Now().Before(deadline); n++ {
			t := time.Now()
			if _, err = cl.get(ctx, k.path); err != nil {
				err = fmt.Errorf("%s: %w", k.name, err)
				break
			}
			times = append(times, time.Since(t))
		}
		stopProfile()
		if err != nil {
			return out, err
		}
		r := result{dialect: dialect, name: k.name, iters: len(times), median: benchkit.Quantile(times, 0.5), p95: benchkit.Quantile(times, 0.95),
			queries: queries, authQ: authQ, bytes: len(body), target: k.target}
		if i == 0 {
			r.load = loadTime
		}
		fmt.Printf("%-28s n=%-4d median %8.2f ms  p95 %8.2f ms  %3d queries  %s\n", k.name, r.iters, ms(r.median), ms(r.p95),
			r.queries, humanBytes(r.bytes))
		out = append(out, r)
	}
	return out, nil
}

// pgSettings sets name=value settings on the database (ALTER DATABASE ...
// SET), before the first connection of the pool.
func pgSettings(ctx context.Context, dbURL string, set []string) error {
	if len(set) == 0 {
		return nil
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, kv := range set {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("-pgset %q: want name=value", kv)
		}
		q := fmt.Sprintf("ALTER DATABASE %s SET %s = %s", pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize(),
			pgx.Identifier{strings.TrimSpace(name)}.Sanitize(), quoteLiteral(strings.TrimSpace(value)))
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		fmt.Printf("PostgreSQL setting: %s = %s\n", name, value)
	}
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// startProfile starts a CPU profile of one case's timed requests in
// FILE-<db>-<case>.pprof (nothing when file is empty) and returns its stop.
func startProfile(file, dialect, name string) (func(), error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file + "-" + dialect + "-" + strings.Join(strings.Fields(name), "-") + ".pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		fmt.Printf("CPU profile: %s\n", f.Name())
	}, nil
}

// countQueries is the number of database queries one GET of path makes:
// the least of three tries, so that an occasional cache refresh (the
// session TTL setting is re-read every few seconds) does not count.
func countQueries(ctx context.Context, db *store.DB, cl *client, path string) (int64, error) {
	best := int64(math.MaxInt64)
	for range 3 {
		before := db.QueryCount()
		if _, err := cl.get(ctx, path); err != nil {
			return 0, err
		}
		best = min(best, db.QueryCount()-before)
	}
	return best, nil
}

// client is the shared API client plus this program's calls.
type client struct{ benchkit.Client }

// get returns the whole body of a 200 answer.
func (c *client) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("x-xsrf-token", c.Token)
	res, err := c.HC.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.300s", path, res.StatusCode, raw)
	}
	return raw, nil
}

// checkList verifies a list answer: rows items of a total of size, in id
// order (descending or not), each with its 2 IPs and 2 switch connections,
// and, for the free-server page, only free servers.
func checkList(raw []byte, rows, size int, desc, free bool) error {
	var v struct {
		List []struct {
			ID               int64            `json:"id"`
			IsNew            bool             `json:"is_new"`
			Owner            map[string]any   `json:"owner"`
			IP               []map[string]any `json:"ip"`
			SwitchConnection []map[string]any `json:"switch_connection"`
		} `json:"list"`
		Size int `json:"size"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if len(v.List) != rows || v.Size != size {
		return fmt.Errorf("answer has %d rows of size %d, want %d of %d", len(v.List), v.Size, rows, size)
	}
	for i, s := range v.List {
		if len(s.IP) != 2 || len(s.SwitchConnection) != 2 {
			return fmt.Errorf("server %d has %d IPs and %d switch connections, want 2 and 2", s.ID, len(s.IP), len(s.SwitchConnection))
		}
		if free && (s.IsNew || s.Owner != nil) {
			return fmt.Errorf("server %d is not free (is_new %v, owner %v)", s.ID, s.IsNew, s.Owner)
		}
		if i > 0 && (s.ID < v.List[i-1].ID) != desc {
			return fmt.Errorf("server %d follows %d: wrong order", s.ID, v.List[i-1].ID)
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func printTable(w io.Writer, c config, rs []result) {
	fmt.Fprintf(w, "\n== results (%d servers; load average %s)\n", c.servers, benchkit.LoadAvg())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "db\tcase\tn\tmedian ms\tp95 ms\tqueries/req\tresponse\ttarget\tresult\t")
	for _, r := range rs {
		target, verdict := "-", "-"
		if r.target > 0 {
			target = fmt.Sprintf("< %g ms", ms(r.target))
			verdict = "PASS"
			if r.iters == 0 || r.median >= r.target {
				verdict = "MISS"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%d\t%s\t%s\t%s\t\n", r.dialect, r.name, r.iters, ms(r.median), ms(r.p95),
			r.queries, humanBytes(r.bytes), target, verdict)
	}
	tw.Flush()

	// Query counts: a page is a constant (authentication, the count, the
	// page, then one batch per kind of related rows); the full list repeats
	// the batches once per chunk of at most inChunk ids. A request lasting
	// seconds may also see the auth service re-read its cached session TTL
	// setting (every 5 s): one more query, allowed for in the bound.
	chunks := int64(math.Ceil(float64(c.servers) / inChunk))
	byDB := map[string]map[string]result{}
	var order []string
	for _, r := range rs {
		if byDB[r.dialect] == nil {
			byDB[r.dialect] = map[string]result{}
			order = append(order, r.dialect)
		}
		byDB[r.dialect][r.name] = r
	}
	for _, d := range order {
		page, ok1 := byDB[d][casePage]
		full, ok2 := byDB[d][caseFull]
		if !ok1 || !ok2 {
			continue
		}
		batches := page.queries - page.authQ - 2
		bound := page.authQ + 1 + 2 + batches*chunks
		verdict := "PASS"
		if full.queries > bound || batches < 0 {
			verdict = "MISS"
		}
		fmt.Fprintf(w, "queries %s: page = %d (auth %d + count + page + %d batches); "+
			"full list = %d <= auth %d (+1 TTL re-read) + 2 + %d*ceil(%d/%d) = %d: %s\n",
			d, page.queries, page.authQ, batches, full.queries, page.authQ, batches, c.servers, inChunk, bound, verdict)
	}
	for _, r := range rs {
		if r.load > 0 {
			fmt.Fprintf(w, "load %s: %v\n", r.dialect, r.load.Round(time.Millisecond))
		}
	}
}

// ---------------------------------------------------------------------------
// Loading

type loaded struct {
	ips, conns, bmcs, owned int
	free                    int    // servers matching pageWhere
	steps                   string // time per step
}

const (
	nLocations     = 2
	serversPerRack = 40
	nSwitches      = 20
	portsPerSwitch = 1000
	nOwners        = 300
)

var platforms = []string{"Dell R640", "Supermicro 1029P", "HPE DL360 Gen10"}

var configurations = []string{"i9-64Gb", "2xE5-2680v4-128Gb", "2xGold6230-192Gb", "EPYC7443-256Gb"}

// load fills the inventory with bulk INSERTs in a few transactions.
func load(ctx context.Context, db *store.DB, n int) (ld loaded, err error) {
	pg := db.IsPostgres()
	sqldb := db.SQL()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx, err := sqldb.BeginTx(ctx, nil)
	if err != nil {
		return ld, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	b := &bulk{ctx: ctx, tx: tx, pg: pg}

	// Places and models.
	b.insert("locations", []string{"name", "geolocation", "created_at", "updated_at"}, nLocations, func(i int) []any {
		return []any{fmt.Sprintf("DC%d", i+1), fmt.Sprintf("%d Server Street", i+1), now, now}
	})
	locs := b.ids("locations")
	nRacks := (n + serversPerRack - 1) / serversPerRack
	b.insert("racks", []string{"name", "size", "location_id", "created_at", "updated_at"}, nRacks, func(i int) []any {
		return []any{fmt.Sprintf("R%03d", i+1), 42, locs[i%len(locs)], now, now}
	})
	racks := b.ids("racks")
	b.insert("platforms", []string{"name", "size", "type", "created_at", "updated_at"}, len(platforms), func(i int) []any {
		return []any{platforms[i], 1, "server", now, now}
	})
	plats := b.ids("platforms")

	// Owners (@user accounts; they never log in here).
	b.insert("users", []string{"email", "password_hash", "role", "created_at", "updated_at"}, nOwners, func(i int) []any {
		return []any{fmt.Sprintf("owner%03d@example.com", i+1), "!bench", "@user", now, now}
	})
	var owners []int64
	if err := b.query("SELECT id FROM users WHERE role = '@user' ORDER BY id", &owners); err != nil {
		return ld, err
	}

	// Switches and their ports: 2 per server.
	b.insert("switches", []string{"name", "address", "location_id", "created_at", "updated_at"}, nSwitches, func(i int) []any {
		return []any{fmt.Sprintf("sw%02d", i+1), fmt.Sprintf("10.255.0.%d", i+1), locs[i%len(locs)], now, now}
	})
	sws := b.ids("switches")
	nPorts := max(2*n, nSwitches*portsPerSwitch)
	perSwitch := (nPorts + len(sws) - 1) / len(sws)
	b.insert("switch_ports", []string{"switch_id", "identity", "name", "description", "admin_status", "oper_status", "speed",
		"created_at", "updated_at"}, nPorts, func(i int) []any {
		p := i%perSwitch + 1
		return []any{sws[i/perSwitch], fmt.Sprint(p), fmt.Sprintf("Gi1/0/%d", p), fmt.Sprintf("srv%05d eth%d", i/2+1, i%2),
			"up", "up", 10000, now, now}
	})
	ports := b.ids("switch_ports")

	// An address block for the IPs.
	b.insert("ipnets", []string{"name", "family", "prefix_len", "gateway", "created_at", "updated_at"}, 1, func(int) []any {
		return []any{"10.0.0.0/14", 4, 14, "10.0.0.1", now, now}
	})
	nets := b.ids("ipnets")
	if b.err != nil {
		return ld, b.err
	}

	// Servers: ~30% owned, ~5% new; the rest is what the page lists.
	hw := `{"cpu":{"model":"Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz","count":2,"cores":40},"ram":{"total_mb":196608,"slots":12},` +
		`"disk":[{"model":"SAMSUNG MZ7LH960","size_gb":960},{"model":"SAMSUNG MZ7LH960","size_gb":960}],` +
		`"nic":[{"name":"eth0","speed":10000},{"name":"eth1","speed":10000}]}`
	isOwned := func(i int) bool { return i%10 < 3 }
	isNew := func(i int) bool { return i%20 == 7 }
	b.insert("servers", []string{"name", "domain", "mac", "configuration", "location_id", "rack_id", "unit", "platform_id",
		"efi", "state", "is_new", "owner_id", "hardware_info", "power_status", "created_at", "updated_at"}, n, func(i int) []any {
		var owner any
		if isOwned(i) {
			owner = owners[i%len(owners)]
			ld.owned++
		} else if !isNew(i) {
			ld.free++
		}
		rack := i / serversPerRack
		return []any{fmt.Sprintf("srv%05d", i+1), fmt.Sprintf("srv%05d.dc.example.com", i+1),
			fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", byte(i>>24), byte(i>>16), byte(i>>8), byte(i)), configurations[i%len(configurations)],
			locs[rack%len(locs)], racks[rack], i%serversPerRack + 1, plats[i%len(plats)], i%2 == 0, "ok", isNew(i), owner, hw, "on", now, now}
	})
	srvs := b.ids("servers")
	if b.err == nil && len(srvs) != n {
		b.err = fmt.Errorf("%d servers loaded, want %d", len(srvs), n)
	}
	if b.err != nil {
		return ld, b.err
	}

	// 2 IPs and 2 switch connections per server; a BMC on 3 servers of 4.
	b.insert("ips", []string{"name", "family", "ipnet_id", "server_id", "domain", "status", "created_at", "updated_at"}, 2*n,
		func(i int) []any {
			a := i + 16
			return []any{fmt.Sprintf("10.%d.%d.%d", a>>16, (a>>8)&255, a&255), 4, nets[0], srvs[i/2],
				fmt.Sprintf("srv%05d.dc.example.com", i/2+1), "ok", now, now}
		})
	ld.ips = 2 * n
	b.insert("server_switch_connections", []string{"server_id", "switch_port_id", "is_ipmi_connection", "created_at"}, 2*n,
		func(i int) []any { return []any{srvs[i/2], ports[i], false, now} })
	ld.conns = 2 * n
	var bmc []int64
	for i, id := range srvs {
		if i%4 != 3 {
			bmc = append(bmc, id)
		}
	}
	b.insert("ipmis", []string{"server_id", "address", "username", "web_url", "status", "created_at", "updated_at"}, len(bmc),
		func(i int) []any {
			a := i + 16
			return []any{bmc[i], fmt.Sprintf("10.200.%d.%d", (a>>8)&255, a&255), "ADMIN",
				fmt.Sprintf("https://10.200.%d.%d", (a>>8)&255, a&255), "online", now, now}
		})
	ld.bmcs = len(bmc)
	b.exec(`UPDATE servers SET main_ipv4 = m.id FROM (SELECT server_id, MIN(id) AS id FROM ips GROUP BY server_id) AS m
		WHERE m.server_id = servers.id`)
	if b.err != nil {
		return ld, b.err
	}
	t0 := time.Now()
	if err := tx.Commit(); err != nil {
		return ld, err
	}
	b.steps = append(b.steps, fmt.Sprintf("commit %v", time.Since(t0).Round(time.Millisecond)))
	defer func() { ld.steps = strings.Join(b.steps, ", ") }()
	// PostgreSQL's autovacuum vacuums and analyses freshly loaded tables
	// within a minute; do it now so that plans (and index-only scans) are
	// those of a running system. SQLite gets nothing, as in a default
	// deployment.
	if pg {
		t0 := time.Now()
		if _, err := sqldb.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return ld, err
		}
		b.steps = append(b.steps, fmt.Sprintf("vacuum analyze %v", time.Since(t0).Round(time.Millisecond)))
	}
	return ld, nil
}

// bulk runs multi-row INSERTs in one transaction; the first error sticks.
type bulk struct {
	ctx   context.Context
	tx    *sql.Tx
	pg    bool
	err   error
	steps []string // "table duration", for the load report
}

// insert adds n rows made by row to table, in statements of a few hundred rows.
func (b *bulk) insert(table string, cols []string, n int, row func(i int) []any) {
	if b.err != nil {
		return
	}
	t0 := time.Now()
	defer func() { b.steps = append(b.steps, fmt.Sprintf("%s %v", table, time.Since(t0).Round(time.Millisecond))) }()
	per := min(500, 30000/len(cols))
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, (end-start)*len(cols))
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			vals := row(i)
			if len(vals) != len(cols) {
				b.err = fmt.Errorf("%s: row has %d values for %d columns", table, len(vals), len(cols))
				return
			}
			for j := range vals {
				if j > 0 {
					sb.WriteString(", ")
				}
				if b.pg {
					fmt.Fprintf(&sb, "$%d", len(args)+1)
				} else {
					sb.WriteByte('?')
				}
				args = append(args, vals[j])
			}
			sb.WriteByte(')')
		}
		if _, err := b.tx.ExecContext(b.ctx, sb.String(), args...); err != nil {
			b.err = fmt.Errorf("insert into %s: %w", table, err)
			return
		}
	}
}

func (b *bulk) exec(q string) {
	if b.err != nil {
		return
	}
	t0 := time.Now()
	if _, err := b.tx.ExecContext(b.ctx, q); err != nil {
		b.err = fmt.Errorf("%s: %w", q, err)
	}
	b.steps = append(b.steps, fmt.Sprintf("update %v", time.Since(t0).Round(time.Millisecond)))
}

// ids lists a table's ids in insertion (id) order.
func (b *bulk) ids(table string) []int64 {
	var out []int64
	if err := b.query("SELECT id FROM "+table+" ORDER BY id", &out); err != nil {
		return nil
	}
	return out
}

func (b *bulk) query(q string, out *[]int64) error {
	if b.err != nil {
		return b.err
	}
	rows, err := b.tx.QueryContext(b.ctx, q)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", q, err)
		return b.err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			b.err = err
			return err
		}
		*out = append(*out, id)
	}
	if err := rows.Err(); err != nil {
		b.err = err
	}
	return b.err
}
