package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
