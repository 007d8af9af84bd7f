package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
)

// The filter of the listing cases: a network and a name pattern.
const listPattern = "10.%.1%"

// listResult is one listing request timed.
type listResult struct {
	dialect, name string
	netRows       int // addresses stored in the network asked for
	iters         int
	p50, p95      time.Duration
	rows, size    int // rows in the answer, total it reports
	bytes         int
	plan          string        // how the database reads the rows
	sqlCount      time.Duration // the count of the filter, straight on the database
	sqlRows       time.Duration // the rows, straight on the database
	err           error
}

// listing stores 100,000 addresses in one network and a few in a second,
// then times GET /api/ip/v3/ip with a where filter.
func listing(ctx context.Context, c benchConfig, rg *rig) ([]listResult, time.Duration, error) {
	big, err := rg.newNet(ctx, "10.128.0.0/15")
	if err != nil {
		return nil, 0, err
	}
	small, err := rg.newNet(ctx, "10.130.0.0/24")
	if err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	gw := netip.MustParseAddr(big.Gateway)
	if err := rg.bulkInsert(ctx, big, span(gw.Next(), c.listRows, 1, gw)); err != nil {
		return nil, 0, err
	}
	sgw := netip.MustParseAddr(small.Gateway)
	if err := rg.bulkInsert(ctx, small, span(sgw.Next(), c.smallRows, 1, sgw)); err != nil {
		return nil, 0, err
	}
	if err := rg.analyze(ctx); err != nil {
		return nil, 0, err
	}
	load := time.Since(t0)
	fmt.Printf("listing: %d addresses in %s, %d in %s, loaded in %v\n", c.listRows, big.Name, c.smallRows, small.Name,
		load.Round(time.Millisecond))

	where := func(id int64) string { return fmt.Sprintf("ipnet EQ %d AND name CP '%s'", id, listPattern) }
	cases := []struct {
		name  string
		netID int64
		rows  int
		q     url.Values
		iters int
		like  bool // the name filter is in the where
		limit int  // -1: none
	}{
		{"100k network, where, limit 100", big.ID, c.listRows, url.Values{"where": {where(big.ID)}, "limit": {"100"}}, c.pageIters, true, 100},
		{"100k network, where, no limit", big.ID, c.listRows, url.Values{"where": {where(big.ID)}}, c.fullIters, true, -1},
		{"100k network, all (ipnet EQ only), no limit", big.ID, c.listRows, url.Values{"where": {fmt.Sprintf("ipnet EQ %d", big.ID)}},
			c.fullIters, false, -1},
		{"small network, same where, limit 100", small.ID, c.smallRows, url.Values{"where": {where(small.ID)}, "limit": {"100"}},
			c.pageIters, true, 100},
		{"small network, same where, no limit", small.ID, c.smallRows, url.Values{"where": {where(small.ID)}}, c.pageIters, true, -1},
	}
	cl := &benchkit.Client{Base: rg.hs.URL, HC: benchkit.OneConn(), Token: rg.token}
	defer cl.HC.CloseIdleConnections()
	var out []listResult
	for _, k := range cases {
		r := listResult{dialect: rg.dialect, name: k.name, netRows: k.rows}
		r.err = timeList(ctx, c, rg, cl, "/api/ip/v3/ip?"+k.q.Encode(), k.iters, &r)
		if r.err == nil {
			r.err = rg.sqlParts(ctx, &r, k.netID, k.like, k.limit)
		}
		if r.err != nil {
			fmt.Printf("%-46s FAILED: %v\n", k.name, r.err)
		} else {
			fmt.Printf("%-46s n=%-3d p50 %8.2f ms  p95 %8.2f ms  %6d rows of %6d  %s; SQL count %.2f ms, rows %.2f ms\n", k.name,
				r.iters, ms(r.p50), ms(r.p95), r.rows, r.size, humanBytes(r.bytes), ms(r.sqlCount), ms(r.sqlRows))
		}
		out = append(out, r)
	}
	return out, load, nil
}

func timeList(ctx context.Context, c benchConfig, rg *rig, cl *benchkit.Client, path string, iters int, r *listResult) error {
	get := func() ([]byte, error) {
		st, raw, err := cl.Do(ctx, "GET", path, nil)
		if err == nil && st != 200 {
			err = fmt.Errorf("GET %s: status %d: %.300s", path, st, raw)
		}
		return raw, err
	}
	raw, err := get() // check the answer once, and warm up
	if err != nil {
		return err
	}
	var v struct {
		List []struct {
			Name  string `json:"name"`
			IPNet int64  `json:"ipnet"`
		} `json:"list"`
		Size int `json:"size"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	r.rows, r.size, r.bytes = len(v.List), v.Size, len(raw)
	stopProf, err := startProfile(c.cpuprof, rg.dialect, "list "+r.name, 1)
	if err != nil {
		return err
	}
	defer stopProf()
	var lats []time.Duration
	for range iters {
		t := time.Now()
		if _, err := get(); err != nil {
			return err
		}
		lats = append(lats, time.Since(t))
	}
	r.iters, r.p50, r.p95 = len(lats), benchkit.Quantile(lats, 0.5), benchkit.Quantile(lats, 0.95)
	return nil
}

// listSQL is the SQL the store runs for one listing (internal/store's
// IPs.ListIPs with the where compiled by listq): the count of the filter
// and the rows in id order (limit < 0: all).
func (rg *rig) listSQL(netID int64, nameLike bool, limit int) (count, rows string, args []any) {
	const from = `FROM ips AS i JOIN ipnets n ON n.id = i.ipnet_id LEFT JOIN servers s ON s.id = i.server_id`
	const cols = `i.id, i.name, i.family, i.domain, i.status, i.status_info, i.server_id, i.ipnet_id,
		n.gateway AS gateway, n.name AS network, s.name AS server_name, i.note, i.reserved, i.permanent`
	where := "WHERE (i.ipnet_id = " + rg.ph(1)
	args = []any{netID}
	if nameLike {
		like := "LIKE " + rg.ph(2)
		if rg.db.IsPostgres() {
			like = "ILIKE " + rg.ph(2) + " ESCAPE ''"
		}
		where += " AND (i.name " + like + ")"
		args = append(args, listPattern)
	}
	where += ")"
	count = "SELECT count(*) " + from + " " + where
	rows = "SELECT " + cols + " " + from + " " + where + " ORDER BY i.id"
	if limit >= 0 {
		rows += fmt.Sprintf(" LIMIT %d", limit)
	}
	return count, rows, args
}

// sqlParts times the two statements of a listing straight on the
// database (the least of three runs, every row read) and tells how the
// database plans the rows.
func (rg *rig) sqlParts(ctx context.Context, r *listResult, netID int64, nameLike bool, limit int) error {
	count, rows, args := rg.listSQL(netID, nameLike, limit)
	run := func(q string) (time.Duration, error) {
		best := time.Duration(math.MaxInt64)
		for range 3 {
			t := time.Now()
			rs, err := rg.db.SQL().QueryContext(ctx, q, args...)
			if err != nil {
				return 0, err
			}
			var cols []string
			if cols, err = rs.Columns(); err != nil {
				rs.Close()
				return 0, err
			}
			vals := make([]any, len(cols))
			for i := range vals {
				vals[i] = new(sql.RawBytes)
			}
			for rs.Next() {
				if err := rs.Scan(vals...); err != nil {
					rs.Close()
					return 0, err
				}
			}
			rs.Close()
			if err := rs.Err(); err != nil {
				return 0, err
			}
			best = min(best, time.Since(t))
		}
		return best, nil
	}
	var err error
	if r.sqlCount, err = run(count); err != nil {
		return err
	}
	if r.sqlRows, err = run(rows); err != nil {
		return err
	}
	r.plan, err = rg.plan(ctx, rows, args)
	return err
}

// plan is how the database runs q, its scans on one line.
func (rg *rig) plan(ctx context.Context, q string, args []any) (string, error) {
	if rg.db.IsPostgres() {
		q = "EXPLAIN " + q
	} else {
		q = "EXPLAIN QUERY PLAN " + q
	}
	rows, err := rg.db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var parts []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		line := fmt.Sprint(vals[len(vals)-1]) // the detail column / the plan line
		if b, ok := vals[len(vals)-1].([]byte); ok {
			line = string(b)
		}
		line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "->"))
		if i := strings.Index(line, "  (cost="); i > 0 {
			line = line[:i]
		}
		if strings.Contains(line, "Scan") || strings.Contains(line, "SCAN") || strings.Contains(line, "SEARCH") ||
			strings.Contains(line, "Sort") || strings.Contains(line, "B-TREE") {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; "), rows.Err()
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
