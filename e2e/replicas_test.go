package e2e

// Three `dcimd serve` replicas on one PostgreSQL share the task work, and
// each task runs exactly once: 200 power_reset tasks over 200 simulated
// BMCs, submitted round-robin through the three APIs, counted on the BMCs.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/lab/bmcsim"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

const (
	replicaCount   = 3
	replicaServers = 200
)

// tryPost sends a JSON POST with the client's session and decodes the answer;
// unlike client.expect it returns errors, so goroutines may use it.
func (c *client) tryPost(path string, body any) (map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-xsrf-token", c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, raw)
	}
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("POST %s: %w: %s", path, err, raw)
	}
	return v, nil
}

func jsonInt(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return n.Int64()
}

// inParallel runs fn(i) for i in [0, n) on a few goroutines and returns the
// first error.
func inParallel(n, workers int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// taskStarted matches the engine's log line for the start of an attempt.
var taskStarted = regexp.MustCompile(`(?m)msg="task started".* task_id=(\d+) .*attempt=(\d+)`)

func TestReplicasRunEachTaskOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleet, err := bmcsim.StartFleet(ctx, replicaServers, bmcsim.Options{PowerOn: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fleet.Close(); err != nil {
			t.Errorf("fleet close: %v", err)
		}
	})
	bmcs := fleet.All()

	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.URL(t)
	env := []string{
		"DCIMD_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key), // the same on every replica
		"DCIMD_POWER_POLL_INTERVAL=0",                                // only the tasks talk to the BMCs
		"DCIMD_DB_MAX_OPEN_CONNS=8",
	}
	// The first replica migrates and creates the admin; the others join.
	var replicas []*daemon
	for i := 0; i < replicaCount; i++ {
		replicas = append(replicas, startDaemon(t, config{dataDir: t.TempDir(), databaseURL: dbURL,
			adminEmail: adminEmail, adminPassword: adminPassword, env: env}))
	}
	token, _ := newClient(t, replicas[0]).login(adminEmail, adminPassword)
	clients := make([]*client, replicaCount)
	for i, d := range replicas {
		clients[i] = newClient(t, d).as(token)
	}

	// 200 servers, each with its own BMC, created through all three APIs.
	servers := make([]int64, replicaServers)
	start := time.Now()
	err = inParallel(replicaServers, 6, func(i int) error {
		c := clients[i%replicaCount]
		v, err := c.tryPost("/api/dci/v3/server", map[string]any{"name": fmt.Sprintf("fleet-%03d", i)})
		if err != nil {
			return err
		}
		if servers[i], err = jsonInt(v["id"]); err != nil {
			return err
		}
		b := bmcs[i]
		_, err = c.tryPost("/api/dci/v3/ipmi", map[string]any{"server_id": servers[i], "address": b.Host(), "port": b.Port(),
			"user": b.User(), "password": b.Password(), "type": "IPMI v2(lanplus)", "cipher_suite": 17})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("inventory of %d servers created in %s", replicaServers, time.Since(start).Round(time.Millisecond))

	// 200 resets, round-robin over the replicas.
	tasks := make([]int64, replicaServers)
	start = time.Now()
	err = inParallel(replicaServers, 6, func(i int) error {
		v, err := clients[i%replicaCount].tryPost(fmt.Sprintf("/api/dci/v3/server/%d/power_reset", servers[i]), nil)
		if err != nil {
			return err
		}
		tasks[i], err = jsonInt(v["task"])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Wait (bounded) until every task has ended.
	deadline := time.Now().Add(90 * time.Second)
	for {
		v := clients[0].expect(http.MethodGet, "/api/dci/v3/task?where=status+EQ+'running'+OR+status+EQ+'created'", nil, http.StatusOK)
		n := num(t, "active", v["size"])
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks still active after 90s", n, replicaServers)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d power_reset tasks done in %s", replicaServers, time.Since(start).Round(time.Millisecond))

	all, size := list(t, "GET /task", clients[1].expect(http.MethodGet, "/api/dci/v3/task", nil, http.StatusOK),
		obj{"id": isInt, "status": isStr, "attempt": isInt, "server": isInt})
	if size != replicaServers || len(all) != replicaServers {
		t.Fatalf("%d tasks listed, want %d", size, replicaServers)
	}
	for _, tk := range all {
		if tk["status"] != "complete" || num(t, "attempt", tk["attempt"]) != 1 {
			t.Errorf("task %v: %v in attempt %v (%v)", tk["id"], tk["status"], tk["attempt"], tk["status_info"])
		}
	}

	// The BMCs: exactly one reset each, 200 in total, nothing else.
	tot := fleet.Totals()
	if tot.Reset != replicaServers || tot.PowerOn != 0 || tot.PowerOff != 0 || tot.Cycle != 0 {
		t.Errorf("the fleet counted %+v, want exactly %d resets", tot, replicaServers)
	}
	for i, b := range bmcs {
		if n := b.Counters().Reset; n != 1 {
			t.Errorf("BMC %d (server %d, task %d) was reset %d times, want 1", i, servers[i], tasks[i], n)
		}
		if !b.Power() {
			t.Errorf("BMC %d is off after its reset", i)
		}
	}

	// The replicas' logs: each task started exactly once, on one replica,
	// and the work was shared.
	startedOn := map[int64][]int{}
	for r, d := range replicas {
		for _, m := range taskStarted.FindAllStringSubmatch(d.stderr(), -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			startedOn[id] = append(startedOn[id], r)
		}
	}
	perReplica := make([]int, replicaCount)
	for _, id := range tasks {
		on := startedOn[id]
		if len(on) != 1 {
			t.Errorf("task %d started %d times (on replicas %v), want once", id, len(on), on)
			continue
		}
		perReplica[on[0]]++
	}
	t.Logf("tasks run per replica: %v", perReplica)
	busy := 0
	for _, n := range perReplica {
		if n > 0 {
			busy++
		}
	}
	if busy < 2 {
		t.Errorf("only %d replica ran tasks (%v); the work is not shared", busy, perReplica)
	}
	for _, d := range replicas {
		d.stopOK()
	}
}
