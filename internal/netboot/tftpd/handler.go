package tftpd

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pin/tftp/v3"
)

// The messages a client sees. pin/tftp sends the text of the error a
// handler returns (always with TFTP error code 1), so these never carry a
// path or a system error.
var (
	errNotFound = errors.New("file not found")
	errBusy     = errors.New("server busy")
	errShutdown = errors.New("server shutting down")
	errReadOnly = errors.New("access violation: read-only server")
	errRead     = errors.New("read error")
	errInternal = errors.New("internal error")
)

// Reasons a request is refused, the label of dcimd_tftp_requests_refused_total.
const (
	reasonNotFound  = iota // no root has a regular file by that name
	reasonForbidden        // bad name: absolute, "..", NUL, symlink out of the root
	reasonBusy             // over MaxTransfers
	reasonWrite            // write request
	reasonShutdown         // arrived while shutting down
	numReasons
)

var reasonNames = [numReasons]string{"not_found", "forbidden", "busy", "write", "shutdown"}

// handleRead is pin/tftp's read handler: it runs on the library's
// goroutine for one transfer, and whatever error it returns is sent to the
// client as the TFTP error message.
func (s *Server) handleRead(name string, rf io.ReaderFrom) (err error) {
	log := s.log.With("file", name)
	if ot, ok := rf.(tftp.OutgoingTransfer); ok {
		ra := ot.RemoteAddr()
		log = log.With("ip", ra.IP.String(), "port", ra.Port)
	}
	if err := s.enter(); err != nil {
		log.Info("tftp: request refused", "reason", err.Error())
		return err
	}
	defer s.leave()

	clean, err := cleanName(name)
	if err != nil {
		s.st.refused[reasonForbidden].Add(1)
		log.Warn("tftp: request refused", "reason", "forbidden", "err", err)
		return errNotFound
	}
	f, size, reason, err := s.open(clean)
	if err != nil {
		s.st.refused[reason].Add(1)
		if reason == reasonForbidden {
			log.Warn("tftp: request refused", "reason", reasonNames[reason], "err", err)
		} else {
			log.Info("tftp: request refused", "reason", reasonNames[reason])
		}
		return errNotFound
	}
	defer f.Close()

	s.st.started.Add(1)
	start := time.Now()
	tr := &transferReader{src: f, stop: s.stop, total: &s.st.bytes}
	defer func() {
		// pin/tftp v3.1.0 panics on some hostile requests inside ReadFrom
		// (an OACK longer than its buffer; see the package tests). The
		// panic runs on this goroutine, so it ends here and not the process.
		if r := recover(); r != nil {
			s.st.panics.Add(1)
			s.st.failed.Add(1)
			log.Error("tftp: transfer aborted by a library panic", "panic", fmt.Sprint(r))
			err = errInternal
		}
	}()
	if ot, ok := rf.(tftp.OutgoingTransfer); ok {
		// Always set: the library otherwise echoes a non-zero tsize the
		// client sent, whatever the file's size.
		ot.SetSize(size)
	}
	n, err := rf.ReadFrom(tr)
	attrs := []any{"bytes", n, "size", size, "block_size", tr.block, "duration", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		s.st.failed.Add(1)
		if tr.err != nil {
			err = tr.err
		}
		log.Warn("tftp: transfer failed", append(attrs, "err", err)...)
		return tr.clientErr()
	}
	s.st.completed.Add(1)
	log.Info("tftp: sent", attrs...)
	return nil
}

// handleWrite refuses every write request.
func (s *Server) handleWrite(name string, _ io.WriterTo) error {
	s.st.refused[reasonWrite].Add(1)
	s.log.Warn("tftp: write request refused", "file", name)
	return errReadOnly
}

// transferReader feeds one transfer: it stops at the next block once the
// server shuts down, counts bytes, learns the negotiated block size from
// the library's first read, and buffers small blocks so a 512-byte
// transfer is not one read(2) per block.
type transferReader struct {
	src   io.Reader
	buf   io.Reader // src, or a buffered src for small blocks
	stop  interface{ Err() error }
	total interface{ Add(uint64) uint64 }
	block int
	n     int64
	err   error // the real failure, for the log
}

// smallBlock is the block size under which reads go through a buffer.
const smallBlock = 16 << 10

func (t *transferReader) Read(p []byte) (int, error) {
	if t.buf == nil {
		t.block = len(p)
		t.buf = t.src
		if len(p) < smallBlock {
			t.buf = newBufReader(t.src)
		}
	}
	if t.stop.Err() != nil {
		t.err = errShutdown
		return 0, errShutdown
	}
	n, err := t.buf.Read(p)
	t.n += int64(n)
	t.total.Add(uint64(n))
	if err != nil && err != io.EOF {
		t.err = fmt.Errorf("read file: %w", err)
		return n, errRead
	}
	return n, err
}

// clientErr is what the client is told about a failed transfer. The
// library has usually told it already (and then sends nothing more).
func (t *transferReader) clientErr() error {
	if t.err == errShutdown {
		return errShutdown
	}
	return errRead
}

// hook receives the library's transfer outcomes. Transfers are accounted
// in handleRead (the library skips OnSuccess in its windowed mode); the
// hook only counts what never reaches a handler: datagrams on the server
// port that are not a request.
type hook struct{ s *Server }

func (h hook) OnSuccess(tftp.TransferStats) {}

func (h hook) OnFailure(st tftp.TransferStats, err error) {
	if st.RemoteAddr != nil || st.Filename != "" {
		return // a transfer's failure, accounted by handleRead
	}
	h.s.mu.Lock()
	closing := h.s.state != stateRunning
	h.s.mu.Unlock()
	if closing {
		return // read errors of the closed socket
	}
	h.s.st.badPackets.Add(1)
	h.s.log.Debug("tftp: bad packet", "err", err)
}
