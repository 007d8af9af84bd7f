package httpboot

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
)

// serveImage serves a file of the image directory. Paths are opened
// through an os.Root, so neither "..", an absolute path nor a symlink can
// reach outside the directory; symlinks that stay inside work.
// http.ServeContent answers Range (206, multipart for several ranges),
// HEAD and the conditional headers.
func (h *Handler) serveImage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	if h.o.ImageDir == "" || !localPath(name) {
		h.imageMiss(w, r, http.StatusNotFound)
		return
	}
	root, err := os.OpenRoot(h.o.ImageDir)
	if err != nil {
		h.o.Log.Error("open image directory", "dir", h.o.ImageDir, "err", err)
		h.imageMiss(w, r, http.StatusNotFound)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.o.Log.Warn("refused image path", "path", name, "err", err)
		}
		h.imageMiss(w, r, http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		h.imageMiss(w, r, http.StatusNotFound)
		return
	}
	// A strong validator from size and modification time: If-Range needs
	// a strong one, and images are replaced, not edited in place.
	w.Header().Set("ETag", `"`+strconv.FormatInt(st.Size(), 16)+"-"+strconv.FormatInt(st.ModTime().UnixNano(), 16)+`"`)
	w.Header().Set("Accept-Ranges", "bytes")
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, path.Base(name), st.ModTime(), f)
	h.m.imageBytes.Add(float64(cw.n))
	h.m.imageRequests.WithLabelValues(strconv.Itoa(cw.statusCode())).Inc()
}

func (h *Handler) imageMiss(w http.ResponseWriter, r *http.Request, code int) {
	h.m.imageRequests.WithLabelValues(strconv.Itoa(code)).Inc()
	http.Error(w, http.StatusText(code), code)
}

// localPath accepts a clean relative slash path with no "..", "." or
// empty element and no backslash.
func localPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return false
	}
	for _, e := range strings.Split(p, "/") {
		if e == "" || e == "." || e == ".." {
			return false
		}
	}
	return true
}

// countingWriter counts the body bytes written and keeps the status.
type countingWriter struct {
	http.ResponseWriter
	n    int64
	code int
}

// WriteHeader keeps the first status.
func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

// Write counts the body bytes.
func (c *countingWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) statusCode() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}

// ReadFrom keeps sendfile for the file body (ServeContent copies with
// io.CopyN, which looks for it).
func (c *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(c.ResponseWriter, src)
	}
	c.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes) through the wrapper.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
