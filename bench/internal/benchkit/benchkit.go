// Package benchkit holds what the benchmark programs share: an API client
// logged in as admin, quantiles and the machine's load.
package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// Client speaks to a dcimd API with one session.
type Client struct {
	Base  string
	HC    *http.Client
	Token string
}

// Login opens a session (POST /auth/v4/public/token → 201).
func (c *Client) Login(ctx context.Context, email, password string) error {
	body := strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/auth/v4/public/token", body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HC.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("login: status %d: %s", res.StatusCode, raw)
	}
	var v struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Token == "" {
		return fmt.Errorf("login: no token in %s", raw)
	}
	c.Token = v.Token
	return nil
}

// Quantile is the nearest-rank q-quantile of ds (0 for none).
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// LoadAvg is the 1, 5 and 15 minute load average (the machine may be shared).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
