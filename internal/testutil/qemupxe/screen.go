//go:build linux

package qemupxe

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Screenshot saves the VM's VGA console as a PNG: BIOS iPXE writes its
// progress and errors there only. It asks qemu's monitor for a PPM
// screendump and converts it.
func (vm *VM) Screenshot(pngPath string) error {
	ppm := filepath.Join(vm.Dir, "screen.ppm")
	_ = os.Remove(ppm)
	c, err := net.DialTimeout("unix", filepath.Join(vm.Dir, "mon.sock"), 2*time.Second)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if _, err := readPrompt(r); err != nil {
		return fmt.Errorf("monitor banner: %w", err)
	}
	if _, err := fmt.Fprintf(c, "screendump %s\n", ppm); err != nil {
		return err
	}
	if _, err := readPrompt(r); err != nil {
		return fmt.Errorf("screendump: %w", err)
	}
	// The dump is written by qemu's main loop; give it a moment.
	var data []byte
	for range 50 {
		if data, err = os.ReadFile(ppm); err == nil && len(data) > 15 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	img, err := decodePPM(data)
	if err != nil {
		return err
	}
	f, err := os.Create(pngPath)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	_ = os.Remove(ppm)
	return f.Close()
}

// readPrompt reads monitor output up to the "(qemu) " prompt.
func readPrompt(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
		if strings.HasSuffix(b.String(), "(qemu) ") {
			return b.String(), nil
		}
	}
}

// decodePPM reads a binary (P6) PPM with 8-bit samples, as qemu writes.
func decodePPM(data []byte) (image.Image, error) {
	var fields []int
	rest := data
	if !bytes.HasPrefix(rest, []byte("P6")) {
		return nil, fmt.Errorf("not a P6 PPM (%d bytes)", len(data))
	}
	rest = rest[2:]
	for len(fields) < 3 {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) > 0 && rest[0] == '#' {
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				rest = rest[i+1:]
				continue
			}
			return nil, fmt.Errorf("truncated PPM header")
		}
		i := bytes.IndexAny(rest, " \t\r\n")
		if i < 0 {
			return nil, fmt.Errorf("truncated PPM header")
		}
		n, err := strconv.Atoi(string(rest[:i]))
		if err != nil {
			return nil, fmt.Errorf("PPM header: %w", err)
		}
		fields = append(fields, n)
		rest = rest[i:]
	}
	rest = rest[1:] // the single whitespace after maxval
	w, h, maxval := fields[0], fields[1], fields[2]
	if maxval != 255 || w <= 0 || h <= 0 || len(rest) < w*h*3 {
		return nil, fmt.Errorf("unsupported PPM %dx%d max %d with %d bytes", w, h, maxval, len(rest))
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			o := (y*w + x) * 3
			img.Set(x, y, color.RGBA{rest[o], rest[o+1], rest[o+2], 255})
		}
	}
	return img, nil
}
