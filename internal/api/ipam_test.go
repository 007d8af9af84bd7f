package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/task"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

func ipamList(t *testing.T, e *env, path string) []map[string]any {
	t.Helper()
	r := e.must(http.StatusOK, "GET", path, e.admin, nil)
	var out []map[string]any
	for _, x := range r.Body["list"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func TestIPAMAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{})
		e := te.env
		f := e.fixture()
		const nets, pools = "/api/ip/v3/ipnet", "/api/ip/v3/ippool"

		// Bad input: a clear 400 and nothing stored.
		for _, b := range []map[string]any{
			{"name": "10.50.0.1/24"}, {"name": "10.50.0.0/40"}, {"name": "ten"}, {},
			{"name": "10.50.0.0/24", "gateway": "10.51.0.1"}, {"name": "10.50.0.0/24", "type": "other"},
			{"name": "10.50.0.0/24", "bogus": 1},
		} {
			e.must(http.StatusBadRequest, "POST", nets, e.admin, b)
		}
		if l := ipamList(t, e, nets); len(l) != 0 {
			t.Fatalf("refused networks stored: %v", l)
		}
		n4 := e.create(nets, map[string]any{"name": "10.50.0.0/24", "gateway": "10.50.0.1", "vlan": "42", "note": "front"})
		e.create(nets, map[string]any{"name": "2001:db8:50::/48", "gateway": "2001:db8:50::1"})
		e.must(http.StatusBadRequest, "POST", nets, e.admin, map[string]any{"name": "10.50.0.128/25"})
		e.must(http.StatusForbidden, "GET", nets, f.userToken, nil)
		l := ipamList(t, e, nets)
		if len(l) != 2 || l[0]["size"] != "256" || l[0]["total_ip"] != "253" || l[0]["using_ip"] != "0" || l[0]["mask"] != 24.0 ||
			l[0]["vlan"] != "42" || l[1]["size"] != "1208925819614629174706176" || l[1]["family"] != "ipv6" {
			t.Fatalf("networks %v", l)
		}

		e.must(http.StatusBadRequest, "POST", pools, e.admin, map[string]any{"name": "p", "ranges": []string{"10.60.0.1-10.60.0.9"}})
		e.must(http.StatusBadRequest, "POST", pools, e.admin, map[string]any{"name": "p", "ranges": []string{"10.50.0.9-10.50.0.1"}})
		if l := ipamList(t, e, pools); len(l) != 0 {
			t.Fatalf("refused pools stored: %v", l)
		}
		pool := e.create(pools, map[string]any{"name": "fifty", "is_public": true, "ranges": []string{"10.50.0.1-10.50.0.51"}})
		e.must(http.StatusBadRequest, "POST", pools+"/"+itoa(pool)+"/range", e.admin, map[string]any{"name": "10.50.1.1-10.50.1.5"})
		e.create(pools+"/"+itoa(pool)+"/range", map[string]any{"name": "2001:db8:50::/120"})
		p := e.must(http.StatusOK, "GET", pools+"/"+itoa(pool), e.admin, nil).Body
		if p["total_ipv4"] != "50" || p["total_ipv6"] != "254" || p["using_ip"] != "0" || p["note"] != "" {
			t.Fatalf("pool %v", p)
		}

		// A user allocates on its own server, not on another's.
		mine, theirs := itoa(f.servers[0]), itoa(f.servers[1])
		e.must(http.StatusNotFound, "POST", "/api/dci/v3/server/"+theirs+"/ip", f.userToken, map[string]any{"family": "ipv4", "ip_pool": pool})
		e.must(http.StatusBadRequest, "POST", "/api/dci/v3/server/"+mine+"/ip", f.userToken, map[string]any{"family": "ipv5", "ip_pool": pool})
		r := e.must(http.StatusOK, "POST", "/api/dci/v3/server/"+mine+"/ip", f.userToken,
			map[string]any{"domain": "srv1.example.com", "family": "ipv4", "set_as_main_ipv4": true}) // default: the public pool
		ipID, tk := int64(r.Body["id"].(float64)), int64(r.Body["task"].(float64))
		te.waitEnd(tk, task.Complete)
		ips := ipamList(t, e, "/api/dci/v3/server/"+mine+"/ip")
		if len(ips) != 1 || ips[0]["name"] != "10.50.0.2" || ips[0]["status"] != "ok" || ips[0]["domain"] != "srv1.example.com" {
			t.Fatalf("server addresses %v", ips)
		}
		srv := e.must(http.StatusOK, "GET", "/api/dci/v3/server/"+mine, e.admin, nil).Body
		if srv["main_ipv4"] != float64(ipID) {
			t.Fatalf("main_ipv4 %v, want %d", srv["main_ipv4"], ipID)
		}
		e.must(http.StatusConflict, "DELETE", nets+"/"+itoa(n4), e.admin, nil)
		e.must(http.StatusNotFound, "POST", "/api/dci/v3/server/"+theirs+"/ip/"+itoa(ipID), e.admin, map[string]any{})
		r = e.must(http.StatusOK, "POST", "/api/dci/v3/server/"+mine+"/ip/"+itoa(ipID), f.userToken, map[string]any{})
		te.waitEnd(int64(r.Body["task"].(float64)), task.Complete)
		if ips := ipamList(t, e, "/api/dci/v3/server/"+mine+"/ip"); len(ips) != 0 {
			t.Fatalf("address not removed: %v", ips)
		}

		// 64 concurrent allocations, separate HTTP clients, 50 free.
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			codes = map[int]int{}
			ids   = map[int64]bool{}
			tasks []int64
		)
		start := make(chan struct{})
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &http.Client{Transport: &http.Transport{}}
				body, _ := json.Marshal(map[string]any{"family": "ipv4", "ip_pool": pool, "domain": fmt.Sprintf("h%d.example", i)})
				req, _ := http.NewRequest("POST", e.srv.URL+"/api/dci/v3/server/"+theirs+"/ip", bytes.NewReader(body))
				req.Header.Set("x-xsrf-token", e.admin)
				<-start
				res, err := cl.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var b map[string]any
				_ = json.Unmarshal(raw, &b)
				mu.Lock()
				defer mu.Unlock()
				codes[res.StatusCode]++
				if res.StatusCode == http.StatusOK {
					id := int64(b["id"].(float64))
					if ids[id] {
						t.Errorf("address id %d twice", id)
					}
					ids[id] = true
					tasks = append(tasks, int64(b["task"].(float64)))
				} else if res.StatusCode != http.StatusConflict {
					t.Errorf("status %d: %s", res.StatusCode, raw)
				}
			}()
		}
		close(start)
		wg.Wait()
		if codes[http.StatusOK] != 50 || codes[http.StatusConflict] != 14 {
			t.Fatalf("answers %v; want 50 × 200 and 14 × 409", codes)
		}
		for _, id := range tasks {
			te.waitEnd(id, task.Complete)
		}
		ips = ipamList(t, e, "/api/dci/v3/server/"+theirs+"/ip")
		seen := map[string]bool{}
		for _, ip := range ips {
			if seen[ip["name"].(string)] || ip["name"] == "10.50.0.1" || ip["status"] != "ok" {
				t.Fatalf("address %v (duplicate, gateway or not ok)", ip)
			}
			seen[ip["name"].(string)] = true
		}
		p = e.must(http.StatusOK, "GET", pools+"/"+itoa(pool), e.admin, nil).Body
		if len(ips) != 50 || p["using_ipv4"] != "50" || p["total_ipv4"] != "50" {
			t.Fatalf("%d addresses, pool %v", len(ips), p)
		}
		r = e.must(http.StatusConflict, "POST", "/api/dci/v3/server/"+theirs+"/ip", e.admin, map[string]any{"family": "ipv4", "ip_pool": pool})
		t.Logf("exhausted: %s", r.Raw)
	})
}

// TestIPAMAdminAPI: reservations, the free list, moves, edits, pool
// places with the rack-first default, a release returning addresses, and
// allocation_fail on a task that died; each bad request a 4xx that changes
// nothing.
func TestIPAMAdminAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		te := newTaskEnv(t, db, taskOpts{})
		e := te.env
		f := e.fixture()
		const v3 = "/api/ip/v3"
		n := e.create(v3+"/ipnet", map[string]any{"name": "10.70.0.0/28", "gateway": "10.70.0.1"})
		free := func() string {
			var out []string
			for _, x := range ipamList(t, e, v3+"/ipnet/"+itoa(n)+"/free?limit=20") {
				out = append(out, x["name"].(string))
			}
			return strings.Join(out, " ")
		}
		if got := free(); got != "10.70.0.2 10.70.0.3 10.70.0.4 10.70.0.5 10.70.0.6 10.70.0.7 10.70.0.8 10.70.0.9 10.70.0.10 10.70.0.11 10.70.0.12 10.70.0.13 10.70.0.14" {
			t.Fatalf("free %q", got)
		}
		snapshot := func() string {
			var b strings.Builder
			for _, p := range []string{v3 + "/ip", v3 + "/ippool", v3 + "/ipnet"} {
				fmt.Fprint(&b, ipamList(t, e, p))
			}
			return b.String()
		}

		// Reservation: never handed out.
		res := e.create(v3+"/ip", map[string]any{"name": "10.70.0.2", "note": "router B"})
		if got := e.must(http.StatusOK, "GET", v3+"/ip/"+itoa(res), e.admin, nil).Body; got["reserved"] != true || got["note"] != "router B" {
			t.Fatalf("reservation %v", got)
		}
		mine, other := itoa(f.servers[0]), itoa(f.servers[1])
		pool := e.create(v3+"/ippool", map[string]any{"name": "rack pool", "ranges": []string{"10.70.0.2-10.70.0.5"}})
		e.create(v3+"/ippool/"+itoa(pool)+"/place", map[string]any{"rack": f.rack})
		r := e.must(http.StatusOK, "POST", "/api/dci/v3/server/"+mine+"/ip", f.userToken, map[string]any{"family": "ipv4", "set_as_main_ipv4": true})
		a := int64(r.Body["id"].(float64))
		te.waitEnd(int64(r.Body["task"].(float64)), task.Complete)
		if got := e.must(http.StatusOK, "GET", v3+"/ip/"+itoa(a), e.admin, nil).Body; got["name"] != "10.70.0.3" || got["status"] != "ok" {
			t.Fatalf("rack pool allocation skipped the reservation? %v", got)
		}
		perm := e.create(v3+"/ip", map[string]any{"ip_net": n, "server": f.servers[0], "permanent": true, "note": "mgmt"})

		before := snapshot()
		for _, c := range []struct {
			method, path string
			body         any
			status       int
		}{
			{"GET", v3 + "/ipnet/" + itoa(n) + "/free?limit=0", nil, 400},
			{"GET", v3 + "/ipnet/" + itoa(n) + "/free?limit=1001", nil, 400},
			{"GET", v3 + "/ipnet/" + itoa(n) + "/free?limit=x", nil, 400},
			{"GET", v3 + "/ipnet/999999/free", nil, 404},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.2"}, 409},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.1"}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.0"}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "10.99.0.1"}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "not-an-ip"}, 400},
			{"POST", v3 + "/ip", map[string]any{}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.9", "ip_net": n}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.9", "server": 999999}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.9", "permanent": true}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.9", "family": "ipv9"}, 400},
			{"POST", v3 + "/ip", map[string]any{"name": "10.70.0.9", "bogus": 1}, 400},
			{"POST", v3 + "/ip", map[string]any{"ip_pool": 999999}, 404},
			{"GET", v3 + "/ip/999999", nil, 404},
			{"POST", v3 + "/ip/999999", map[string]any{"note": "x"}, 404},
			{"POST", v3 + "/ip/" + itoa(a), map[string]any{"note": 5}, 400},
			{"POST", v3 + "/ip/" + itoa(a) + "/move", map[string]any{"server": 999999}, 400},
			{"POST", v3 + "/ip/" + itoa(a) + "/move", map[string]any{"server": -1}, 400},
			{"POST", v3 + "/ip/" + itoa(a) + "/move", map[string]any{"server": nil, "set_as_main": true}, 400},
			{"POST", v3 + "/ip/999999/move", map[string]any{"server": f.servers[1]}, 404},
			{"DELETE", v3 + "/ip/999999", nil, 404},
			{"POST", v3 + "/ippool/" + itoa(pool) + "/place", map[string]any{"rack": f.rack}, 409},
			{"POST", v3 + "/ippool/" + itoa(pool) + "/place", map[string]any{"rack": f.rack, "location": f.location}, 400},
			{"POST", v3 + "/ippool/" + itoa(pool) + "/place", map[string]any{}, 400},
			{"POST", v3 + "/ippool/" + itoa(pool) + "/place", map[string]any{"rack": 999999}, 400},
			{"POST", v3 + "/ippool/" + itoa(pool) + "/place", map[string]any{"location": 0}, 400},
			{"POST", v3 + "/ippool/999999/place", map[string]any{"rack": f.rack}, 404},
			{"DELETE", v3 + "/ippool/" + itoa(pool) + "/place/999999", nil, 404},
		} {
			got := e.do(c.method, c.path, e.admin, c.body)
			if got.Status != c.status || got.Body["error"] == nil {
				t.Errorf("%s %s %v: %d %s; want %d in the error format", c.method, c.path, c.body, got.Status, got.Raw, c.status)
			}
		}
		// A user may not remove a permanent address, nor touch admin tools.
		e.must(http.StatusForbidden, "POST", "/api/dci/v3/server/"+mine+"/ip/"+itoa(perm), f.userToken, map[string]any{})
		e.must(http.StatusForbidden, "POST", v3+"/ip/"+itoa(a)+"/move", f.userToken, map[string]any{"server": f.servers[0]})
		if after := snapshot(); after != before {
			t.Fatalf("bad requests changed IPAM:\nbefore %s\nafter  %s", before, after)
		}

		// Move a to the other server and back; edit it.
		e.must(http.StatusOK, "POST", v3+"/ip/"+itoa(a)+"/move", e.admin, map[string]any{"server": f.servers[1], "set_as_main": true})
		if s := te.serverObj(e.admin, f.servers[0]); s["main_ipv4"] != nil && s["main_ipv4"] != 0.0 {
			t.Fatalf("old server keeps main_ipv4 %v", s["main_ipv4"])
		}
		if s := te.serverObj(e.admin, f.servers[1]); s["main_ipv4"] != float64(a) {
			t.Fatalf("new server main_ipv4 %v", s["main_ipv4"])
		}
		e.must(http.StatusOK, "POST", v3+"/ip/"+itoa(a)+"/move", e.admin, map[string]any{"server": f.servers[0]})
		e.must(http.StatusOK, "POST", v3+"/ip/"+itoa(a), e.admin, map[string]any{"domain": "moved.example.com"})
		_ = other

		// Releasing the server returns a, keeps the permanent one.
		e.must(http.StatusOK, "DELETE", "/api/dci/v3/server/"+mine+"/owner", e.admin, nil)
		e.must(http.StatusNotFound, "GET", v3+"/ip/"+itoa(a), e.admin, nil)
		if got := e.must(http.StatusOK, "GET", v3+"/ip/"+itoa(perm), e.admin, nil).Body; got["server"] != float64(f.servers[0]) {
			t.Fatalf("permanent address after release %v", got)
		}
		if got := free(); !strings.HasPrefix(got, "10.70.0.3 ") {
			t.Fatalf("released address not first free: %q", got)
		}
		e.must(http.StatusOK, "DELETE", v3+"/ip/"+itoa(res), e.admin, nil)

		// A task that died with its process: the orphan sweep fails it and
		// the address says allocation_fail.
		stuck := e.create(v3+"/ip", map[string]any{"name": "10.70.0.14", "server": f.servers[1]})
		if err := db.IPAM().SetStatus(context.Background(), stuck, "allocating", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().ExecContext(context.Background(), fmt.Sprintf(`INSERT INTO tasks (name, exclusive, status, params, created_at, updated_at)
			VALUES ('ip_allocate', false, 'running', '{"ip_id":%d}', '2000-01-01 00:00:00+00:00', '2000-01-01 00:00:00+00:00')`, stuck)); err != nil {
			t.Fatal(err)
		}
		if n, err := te.eng.FailOrphans(context.Background()); err != nil || n != 1 {
			t.Fatalf("FailOrphans %d %v", n, err)
		}
		got := e.must(http.StatusOK, "GET", v3+"/ip/"+itoa(stuck), e.admin, nil).Body
		if got["status"] != "allocation_fail" {
			t.Fatalf("address of a failed allocation: %v", got)
		}
		// It can be removed like any other.
		e.must(http.StatusOK, "DELETE", v3+"/ip/"+itoa(stuck), e.admin, nil)
	})
}
