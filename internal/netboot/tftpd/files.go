package tftpd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// cleanName turns a requested file name into a path relative to a root, or
// refuses it. Backslashes count as separators (Windows-style clients ask
// for "boot\x64\wdsnbp.com"), so "..\x" is refused like "../x".
func cleanName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", errors.New("empty file name")
	case strings.IndexByte(raw, 0) >= 0:
		return "", errors.New("NUL in file name")
	}
	name := strings.ReplaceAll(raw, `\`, "/")
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute path")
	}
	if !filepath.IsLocal(name) {
		return "", errors.New("path leaves the root")
	}
	name = filepath.Clean(name)
	if name == "." {
		return "", errors.New("no file name")
	}
	return name, nil
}

// open finds name in the roots, then in the embedded files. The roots
// refuse any path that leaves them, symlinks included (os.Root, which
// checks each component as it opens it, so a symlink swapped in between
// a check and the open cannot escape either). Only regular files are
// served: directories and devices count as missing, and O_NONBLOCK keeps
// a FIFO from blocking the open.
func (s *Server) open(name string) (io.ReadCloser, int64, int, error) {
	reason, firstErr := reasonNotFound, error(nil)
	note := func(err error) {
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		reason = reasonForbidden // escapes, loops, permissions
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, r := range s.roots {
		f, err := r.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			note(err)
			continue
		}
		if size, ok := regular(f); ok {
			return f, size, 0, nil
		}
		f.Close()
	}
	if s.opts.Files != nil {
		f, err := s.opts.Files.Open(name)
		if err != nil {
			note(err)
		} else if size, ok := regular(f); ok {
			return f, size, 0, nil
		} else {
			f.Close()
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%q: %w", name, fs.ErrNotExist)
	}
	return nil, 0, reason, firstErr
}

func regular(f fs.File) (int64, bool) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	return fi.Size(), true
}

// newBufReader buffers a small-block transfer: 64 KiB is 128 blocks of
// 512 per read(2).
func newBufReader(r io.Reader) io.Reader { return bufio.NewReaderSize(r, 64<<10) }
