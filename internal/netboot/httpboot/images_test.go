package httpboot

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// imageTree makes an image directory with a kernel of size n, a
// subfolder, a symlink inside and two that point outside, and a secret
// next to the directory.
func imageTree(t *testing.T, n int) (dir string, kernel []byte) {
	t.Helper()
	top := t.TempDir()
	dir = filepath.Join(top, "images")
	kernel = make([]byte, n)
	if _, err := rand.Read(kernel); err != nil {
		t.Fatal(err)
	}
	for p, data := range map[string][]byte{
		"images/debian-12/linux":     kernel,
		"images/debian-12/initrd.gz": []byte("initrd"),
		"secret":                     []byte("outside the image directory"),
	} {
		p = filepath.Join(top, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"images/current":    "debian-12",
		"images/escape":     "../secret",
		"images/escape-abs": filepath.Join(top, "secret"),
		"images/escape-dir": "..",
	} {
		if err := os.Symlink(target, filepath.Join(top, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, kernel
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestImagesRange: whole files, single ranges of several sizes (206),
// several ranges (multipart), unsatisfiable ranges (416), HEAD, and the
// validators.
func TestImagesRange(t *testing.T) {
	const size = 5<<20 + 123
	dir, kernel := imageTree(t, size)
	h := New(Options{ImageDir: dir, Log: quiet()})
	const url = "/boot/images/debian-12/linux"

	w := do(t, h, http.MethodGet, url, nil)
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), kernel) {
		t.Fatalf("whole file: status %d, %d bytes", w.Code, w.Body.Len())
	}
	etag, lm := w.Header().Get("ETag"), w.Header().Get("Last-Modified")
	if etag == "" || lm == "" || w.Header().Get("Accept-Ranges") != "bytes" || w.Header().Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("headers %v", w.Header())
	}

	for _, rg := range []struct {
		spec     string
		from, to int
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=0-1023", 0, 1023},
		{"bytes=1000-1999", 1000, 1999},
		{"bytes=4096-1052671", 4096, 1052671}, // 1 MiB
		{"bytes=-1", size - 1, size - 1},
		{"bytes=-65536", size - 65536, size - 1},
		{"bytes=5242880-", 5242880, size - 1},
		{"bytes=0-99999999", 0, size - 1}, // the end is clamped
	} {
		w := do(t, h, http.MethodGet, url, map[string]string{"Range": rg.spec})
		want := kernel[rg.from : rg.to+1]
		if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("%s: status %d, %d bytes, want 206 with %d", rg.spec, w.Code, w.Body.Len(), len(want))
			continue
		}
		if cr := fmt.Sprintf("bytes %d-%d/%d", rg.from, rg.to, size); w.Header().Get("Content-Range") != cr {
			t.Errorf("%s: Content-Range %q, want %q", rg.spec, w.Header().Get("Content-Range"), cr)
		}
	}

	w = do(t, h, http.MethodGet, url, map[string]string{"Range": "bytes=0-9,100-109,-10"})
	mt, params, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if w.Code != http.StatusPartialContent || mt != "multipart/byteranges" {
		t.Fatalf("several ranges: status %d, type %q", w.Code, mt)
	}
	mr := multipart.NewReader(w.Body, params["boundary"])
	for i, want := range [][]byte{kernel[0:10], kernel[100:110], kernel[size-10:]} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		got, _ := io.ReadAll(p)
		if !bytes.Equal(got, want) {
			t.Errorf("part %d: %d bytes differ", i, len(got))
		}
	}

	if w := do(t, h, http.MethodGet, url, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size+1)}); w.Code != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: status %d", w.Code)
	}
	if w := do(t, h, http.MethodHead, url, nil); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(size) {
		t.Errorf("HEAD: status %d, body %d, length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
	if w := do(t, h, http.MethodGet, url, map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d", w.Code)
	}
	if w := do(t, h, http.MethodGet, url, map[string]string{"If-Modified-Since": lm}); w.Code != http.StatusNotModified {
		t.Errorf("If-Modified-Since: status %d", w.Code)
	}
	// If-Range: a matching validator gets the range, a stale one the whole file.
	if w := do(t, h, http.MethodGet, url, map[string]string{"Range": "bytes=0-9", "If-Range": etag}); w.Code != http.StatusPartialContent {
		t.Errorf("If-Range matching: status %d", w.Code)
	}
	if w := do(t, h, http.MethodGet, url, map[string]string{"Range": "bytes=0-9", "If-Range": `"stale"`}); w.Code != http.StatusOK || w.Body.Len() != size {
		t.Errorf("If-Range stale: status %d, %d bytes", w.Code, w.Body.Len())
	}
	// A replaced file gets a new validator.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "debian-12", "linux"), later, later); err != nil {
		t.Fatal(err)
	}
	if w := do(t, h, http.MethodGet, url, map[string]string{"If-None-Match": etag}); w.Code != http.StatusOK {
		t.Errorf("If-None-Match after a change: status %d", w.Code)
	}
	if got := metric(t, h, "dcimd_httpboot_image_bytes_total"); got < float64(2*size) {
		t.Errorf("image bytes counted %v, want at least %d", got, 2*size)
	}
}

// TestImagesRefused: nothing outside the image directory is reachable,
// however the path is spelled; symlinks that stay inside work.
func TestImagesRefused(t *testing.T) {
	dir, _ := imageTree(t, 100)
	h := New(Options{ImageDir: dir, Log: quiet()})
	if w := do(t, h, http.MethodGet, "/boot/images/current/initrd.gz", nil); w.Code != http.StatusOK || w.Body.String() != "initrd" {
		t.Fatalf("symlink inside: status %d %q", w.Code, w.Body)
	}
	for _, p := range []string{
		"/boot/images/escape",
		"/boot/images/escape-abs",
		"/boot/images/escape-dir/secret",
		"/boot/images/../secret",
		"/boot/images/debian-12/../../secret",
		"/boot/images/%2e%2e/secret",
		"/boot/images/debian-12%2f..%2f..%2fsecret",
		"/boot/images//etc/passwd",
		"/boot/images/..%5csecret",
		"/boot/images/debian-12",
		"/boot/images/debian-12/",
		"/boot/images/missing",
		"/boot/images/",
	} {
		w := do(t, h, http.MethodGet, p, nil)
		if w.Code == http.StatusOK || w.Code == http.StatusPartialContent || bytes.Contains(w.Body.Bytes(), []byte("outside")) {
			t.Errorf("%s: status %d body %q", p, w.Code, w.Body)
		}
	}
	for _, p := range []string{"a/../b", "/abs", "a//b", "./a", "a\\b", "a/.", ""} {
		if localPath(p) {
			t.Errorf("localPath(%q) = true", p)
		}
	}
	if w := do(t, New(Options{Log: quiet()}), http.MethodGet, "/boot/images/debian-12/linux", nil); w.Code != http.StatusNotFound {
		t.Errorf("no image directory: status %d", w.Code)
	}
}

// TestImagesOverHTTP: a real server answers a ranged request with
// sendfile through the counting wrapper.
func TestImagesOverHTTP(t *testing.T) {
	dir, kernel := imageTree(t, 3<<20)
	h := New(Options{ImageDir: dir, Log: quiet()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/boot/images/debian-12/linux", nil)
	req.Header.Set("Range", "bytes=1048576-2097151")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, kernel[1<<20:2<<20]) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(got))
	}
	if c := metric(t, h, "dcimd_httpboot_image_bytes_total"); c != 1<<20 {
		t.Errorf("image bytes %v, want %d", c, 1<<20)
	}
}
