package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// atftpArgs is the atftp command line for one download. Block size 512
// sends no option at all (plain RFC 1350, as the harness's "atftp, 512").
func atftpArgs(srv *server, name, local string, blksize int) []string {
	var a []string
	if blksize != 512 {
		a = append(a, "--option", "blksize "+strconv.Itoa(blksize))
	}
	return append(a, "-g", "-r", name, "-l", local, srv.host, srv.port)
}

// single downloads the file once and returns MiB/s, or an error if atftp
// failed or the copy differs.
func single(ctx context.Context, b *bench, srv *server, blksize int) (float64, error) {
	local := filepath.Join(b.outDir, "single.bin")
	defer os.Remove(local)
	ctx, cancel := context.WithTimeout(ctx, b.clientTimeout)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, b.atftp, atftpArgs(srv, b.fileName, local, blksize)...).CombinedOutput()
	el := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("atftp: %v: %.200s", err, out)
	}
	got, err := os.ReadFile(local)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(got, b.content) {
		return 0, fmt.Errorf("copy differs (%d bytes of %d)", len(got), len(b.content))
	}
	return mib(len(got)) / el.Seconds(), nil
}

// concurrent starts n downloads of the file at once and measures for at
// most box: the aggregate rate is the bytes the clients wrote by the time
// they all finished or the box ended, over that time. Clients still
// running are killed (by PID); each output must be a prefix of the file.
func concurrent(ctx context.Context, b *bench, srv *server, blksize, n int, box time.Duration) (rate float64, done int, err error) {
	cmds := make([]*exec.Cmd, n)
	locals := make([]string, n)
	exited := make(chan int, n)
	start := time.Now()
	for i := range cmds {
		locals[i] = filepath.Join(b.outDir, fmt.Sprintf("c%02d.bin", i))
		cmds[i] = exec.CommandContext(ctx, b.atftp, atftpArgs(srv, b.fileName, locals[i], blksize)...)
		if err := cmds[i].Start(); err != nil {
			for _, c := range cmds[:i] {
				c.Process.Kill()
				c.Wait()
			}
			return 0, 0, err
		}
		go func(i int) { cmds[i].Wait(); exited <- i }(i)
	}
	timer := time.NewTimer(box)
	defer timer.Stop()
	failed := 0
wait:
	for done+failed < n {
		select {
		case i := <-exited:
			if cmds[i].ProcessState.Success() {
				done++
			} else {
				failed++
			}
		case <-timer.C:
			break wait
		}
	}
	el := time.Since(start)
	total := 0
	for i, l := range locals {
		got, rerr := os.ReadFile(l)
		if rerr == nil && !bytes.Equal(got, b.content[:min(len(got), len(b.content))]) {
			err = fmt.Errorf("client %d: received bytes differ from the file", i)
		}
		total += len(got)
	}
	for _, c := range cmds {
		c.Process.Kill() // a no-op for those already reaped
	}
	for range n - done - failed {
		<-exited
	}
	for _, l := range locals {
		os.Remove(l)
	}
	if failed > 0 && err == nil {
		err = fmt.Errorf("%d of %d clients failed", failed, n)
	}
	return mib(total) / el.Seconds(), done, err
}

func mib(n int) float64 { return float64(n) / (1 << 20) }
