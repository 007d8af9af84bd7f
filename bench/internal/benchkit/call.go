package benchkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// Do sends one request with the session header (and a JSON body when body
// is not nil) and returns the status and the whole answer.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("x-xsrf-token", c.Token)
	}
	res, err := c.HC.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

// OneConn is an HTTP client that keeps a single keep-alive connection to
// the server (one simulated API client), without compression.
func OneConn() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}}
}
