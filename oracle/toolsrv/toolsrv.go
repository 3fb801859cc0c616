// Package toolsrv runs external tools such as llvm-objdump through fork
// servers, which saves each run the tool's start: the dynamic loader's
// relocation of libLLVM (about 365,000 relative relocations) and LLVM's
// static constructors, 15 to 20 ms of CPU per process, more than
// llvm-readobj spends reading a small executable.
//
// A server is the real tool, started once with a small preloaded library
// (csrc/preload.c, built with the C compiler on first use) that wraps its main:
// once the loader and the constructors are done, it forks one child per
// request, and the child calls the tool's own main with the request's
// arguments and standard output and error. What runs is the tool's code
// on the file, from the state a fresh process reaches before main, so a
// served run is as real as a started one: its output and exit status are
// the same (the tests compare them byte for byte).
//
// Where a server cannot be had (no C compiler, a statically linked tool
// that ignores LD_PRELOAD, a server that does not answer its handshake),
// the Pool starts the tool as a process of its own for every run: the
// same check, without the saving.
package toolsrv

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

//go:embed csrc/preload.c
var preloadSource []byte

// hello is the server's first message; it proves the preload took.
const hello = "linkcheck-toolsrv 1"

// handshakeTimeout bounds the wait for a new server's hello (a tool
// that ignores the preload runs its own main and exits instead).
const handshakeTimeout = 10 * time.Second

// maxRequest is the largest request preload.c accepts.
const maxRequest = 1 << 16

// Pool keeps the idle fork servers of the tools it has run, by path. Its
// methods are safe for concurrent use; Close stops the servers (their CPU
// time, and that of the runs they served, counts in the caller's
// RUSAGE_CHILDREN once they are reaped, that is after Close). A nil
// *Pool starts every run as a process of its own.
type Pool struct {
	mu     sync.Mutex
	idle   map[string][]*server
	closed bool
	// lib is the built preload library, libErr why there is none.
	lib    string
	libErr error
	built  bool
	tmpDir string // lib's directory when it is not in the user's cache
	// unserved are the tools whose server could not start, with why.
	unserved map[string]error
	// found are the tools Find has found, by name: a lookup runs the
	// tool's --version, a process as costly as a small run.
	found map[string]*tools.Tool
	// started counts the servers started (for the tests).
	started int
}

// NewPool returns an empty pool; servers start on first use.
func NewPool() *Pool {
	return &Pool{idle: map[string][]*server{}, unserved: map[string]error{}, found: map[string]*tools.Tool{}}
}

// Find is tools.Find, remembered: the pool looks each tool up (and
// checks its version) once. A nil pool looks it up every time.
func (p *Pool) Find(name string) (*tools.Tool, error) {
	if p == nil {
		return tools.Find(name)
	}
	p.mu.Lock()
	t, ok := p.found[name]
	p.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := tools.Find(name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.found[name] = t
	p.mu.Unlock()
	return t, nil
}

// Close stops the pool's servers and waits for them. A Run in flight
// finishes; its server is stopped when it is done.
func (p *Pool) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = map[string][]*server{}, true
	tmp := p.tmpDir
	p.mu.Unlock()
	for _, list := range idle {
		for _, s := range list {
			s.stop()
		}
	}
	if tmp != "" {
		return os.RemoveAll(tmp)
	}
	return nil
}

// Served reports whether runs of the tool at path go through a server
// (after its first run), and if not, why.
func (p *Pool) Served(path string) (bool, error) {
	if p == nil {
		return false, errors.New("no pool")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err, ok := p.unserved[path]; ok {
		return false, err
	}
	return true, nil
}

// Started reports how many servers the pool has started.
func (p *Pool) Started() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// Run is one run of a tool: Stdout streams its standard output, which
// the caller reads to its end before Wait.
type Run struct {
	// Stdout is the run's standard output.
	Stdout io.Reader
	wait   func() error
	srv    *server // the server of a served run (for the tests)
}

// Wait waits for the run to finish and reports its exit as os/exec does:
// nil for status 0, else an error saying the status or the signal.
func (r *Run) Wait() error { return r.wait() }

// ExitError is a served run that did not exit with status 0.
type ExitError struct {
	Status syscall.WaitStatus
}

func (e *ExitError) Error() string {
	switch {
	case e.Status.Exited():
		return fmt.Sprintf("exit status %d", e.Status.ExitStatus())
	case e.Status.Signaled():
		return "signal: " + e.Status.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(e.Status))
}

// Start runs the tool at path with args, its standard error copied to
// stderr; the caller reads Stdout to its end and then calls Wait. A
// served run sees the environment and working directory this process
// had when the tool's server started (the callers pass absolute paths).
func (p *Pool) Start(path string, args []string, stderr io.Writer) (*Run, error) {
	if p != nil {
		if s := p.server(path); s != nil {
			run, err := s.start(args, stderr, func(ok bool) { p.put(path, s, ok) })
			if err == nil {
				return run, nil
			}
			if !errors.Is(err, ErrServer) {
				p.put(path, s, true)
				return nil, err
			}
			s.stop()
			// The server is gone (killed from outside, say): this run
			// starts the tool itself; the next asks for a new server.
		}
	}
	return startProcess(path, args, stderr)
}

// startProcess runs the tool as a process of its own.
func startProcess(path string, args []string, stderr io.Writer) (*Run, error) {
	cmd := osexec.Command(path, args...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Run{Stdout: stdout, wait: cmd.Wait}, nil
}

// server returns an idle server of the tool at path, starting one when
// there is none, or nil when the tool cannot be served.
func (p *Pool) server(path string) *server {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	if _, no := p.unserved[path]; no {
		p.mu.Unlock()
		return nil
	}
	if list := p.idle[path]; len(list) > 0 {
		s := list[len(list)-1]
		p.idle[path] = list[:len(list)-1]
		p.mu.Unlock()
		return s
	}
	lib, err := p.library()
	if err == nil {
		p.started++
	}
	p.mu.Unlock()
	var s *server
	if err == nil {
		s, err = startServer(path, lib)
	}
	if err != nil {
		p.mu.Lock()
		p.unserved[path] = err
		p.mu.Unlock()
		return nil
	}
	return s
}

// put returns a server after a run: idle again when it is healthy and
// the pool open, else stopped.
func (p *Pool) put(path string, s *server, ok bool) {
	p.mu.Lock()
	if ok && !p.closed {
		p.idle[path] = append(p.idle[path], s)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	s.stop()
}

// library builds preload.c once (p.mu held): into the user's cache
// directory, named by the source's hash, where it is kept for the next
// process; else into a directory of the pool's own.
func (p *Pool) library() (string, error) {
	if p.built {
		return p.lib, p.libErr
	}
	p.built = true
	sum := sha256.Sum256(preloadSource)
	name := "toolsrv-" + hex.EncodeToString(sum[:8]) + ".so"
	if cache, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(cache, "linkcheck")
		lib := filepath.Join(dir, name)
		if _, err := os.Stat(lib); err == nil {
			p.lib = lib
			return lib, nil
		}
		if err := os.MkdirAll(dir, 0o755); err == nil {
			if err := build(dir, lib); err == nil {
				p.lib = lib
				return lib, nil
			}
		}
	}
	dir, err := os.MkdirTemp("", "linkcheck-toolsrv-")
	if err != nil {
		p.libErr = err
		return "", err
	}
	p.tmpDir = dir
	lib := filepath.Join(dir, name)
	if err := build(dir, lib); err != nil {
		p.libErr = err
		return "", err
	}
	p.lib = lib
	return lib, nil
}

// build compiles preload.c into the shared library lib, written under a
// temporary name in dir and renamed (processes may build at once).
func build(dir, lib string) error {
	cc, err := osexec.LookPath("cc")
	if err != nil {
		if cc, err = osexec.LookPath("gcc"); err != nil {
			return fmt.Errorf("toolsrv: no C compiler to build the fork server: %w", err)
		}
	}
	src, err := os.CreateTemp(dir, "toolsrv-*.c")
	if err != nil {
		return err
	}
	defer os.Remove(src.Name())
	if _, err := src.Write(preloadSource); err != nil {
		src.Close()
		return err
	}
	if err := src.Close(); err != nil {
		return err
	}
	tmp := strings.TrimSuffix(src.Name(), ".c") + ".so"
	defer os.Remove(tmp)
	var msg bytes.Buffer
	cmd := osexec.Command(cc, "-shared", "-fPIC", "-O2", "-o", tmp, src.Name(), "-ldl")
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("toolsrv: building the fork server: %v: %s", err, strings.TrimSpace(msg.String()))
	}
	return os.Rename(tmp, lib)
}

// ErrServer marks a failure of the server itself, not of the run: it
// died, or could not fork. Run.Wait wraps it; the run's outcome is then
// unknown and the caller runs the tool again without the pool (nil).
var ErrServer = errors.New("toolsrv: the fork server failed")

// server is one fork server: the tool's process and our end of its
// socket.
type server struct {
	path string
	cmd  *osexec.Cmd
	conn *net.UnixConn
}

// startServer starts the tool at path with the preload lib and waits for
// its hello.
func startServer(path, lib string) (*server, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("toolsrv: socketpair: %w", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "toolsrv-server")
	ours := os.NewFile(uintptr(fds[0]), "toolsrv-client")
	defer theirs.Close()
	defer ours.Close()
	c, err := net.FileConn(ours)
	if err != nil {
		return nil, fmt.Errorf("toolsrv: %w", err)
	}
	conn := c.(*net.UnixConn)
	cmd := osexec.Command(path)
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+lib, "LINKCHECK_TOOLSRV_FD=3")
	// Its own process group (stop kills the group). A server never
	// outlives the process that uses it: the socket reaches end of
	// file when that process ends, and the server exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("toolsrv: starting %s: %w", path, err)
	}
	s := &server{path: path, cmd: cmd, conn: conn}
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	n, err := conn.Read(buf)
	conn.SetReadDeadline(time.Time{})
	if err != nil || string(buf[:n]) != hello {
		s.stop()
		return nil, fmt.Errorf("toolsrv: %s did not start as a fork server (a statically linked tool ignores the preload): %v", path, err)
	}
	return s, nil
}

// stop ends the server: end of file on its socket, then a kill if it
// does not exit.
func (s *server) stop() {
	s.conn.Close()
	done := make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// start sends one request; done is called once the run's answer is in,
// with whether the server can serve again.
func (s *server) start(args []string, stderr io.Writer, done func(ok bool)) (*Run, error) {
	var req []byte
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("toolsrv: an argument holds a NUL byte: %q", a)
		}
		req = append(append(req, a...), 0)
	}
	if len(req) > maxRequest {
		return nil, fmt.Errorf("toolsrv: %d bytes of arguments, the server takes at most %d", len(req), maxRequest)
	}
	outR, outW, err := outputPipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	_, _, err = s.conn.WriteMsgUnix(req, syscall.UnixRights(int(outW.Fd()), int(errW.Fd())), nil)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrServer, s.path, err)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(stderr, errR)
		errR.Close()
		copied <- err
	}()
	wait := func() error {
		// Like os/exec: the rest of the output is drained, so that
		// the child is never blocked on a full pipe.
		io.Copy(io.Discard, outR)
		outR.Close()
		cerr := <-copied
		var ans [8]byte
		n, err := s.conn.Read(ans[:])
		if err != nil || n != len(ans) {
			done(false)
			return fmt.Errorf("%w: %s: no answer (%d bytes): %v", ErrServer, s.path, n, err)
		}
		done(true)
		if e := binary.LittleEndian.Uint32(ans[:4]); e != 0 {
			return fmt.Errorf("%w: %s could not run the request: %w", ErrServer, s.path, syscall.Errno(e))
		}
		if st := syscall.WaitStatus(binary.LittleEndian.Uint32(ans[4:])); st != 0 {
			return &ExitError{Status: st}
		}
		return cerr
	}
	return &Run{Stdout: patientReader{outR}, wait: wait, srv: s}, nil
}

// pipeSize is the capacity asked for the output pipe: room for what a
// tool writes while patientReader sleeps.
const pipeSize = 1 << 20

// outputPipe makes the pipe of a served run's standard output: blocking
// (read outside Go's poller) and large. llvm-objdump writes every line
// of a listing with a write of its own, 11,000 of them for a 40-function
// output: a reader woken for each (through the poller's epoll and
// goroutine wake-ups) spent a quarter of the check's CPU on it.
func outputPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("toolsrv: pipe: %w", err)
	}
	// Best effort: beyond /proc/sys/fs/pipe-max-size the default stays.
	syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[1]), syscall.F_SETPIPE_SZ, pipeSize)
	return os.NewFile(uintptr(p[0]), "toolsrv-stdout"), os.NewFile(uintptr(p[1]), "toolsrv-stdout"), nil
}

// patientReader reads a served run's output in large pieces: after a
// read that did not fill half the buffer it sleeps a millisecond, so the
// tool's small writes gather in the pipe instead of waking the reader
// one by one. The output still streams (the pipe holds at most
// pipeSize); only the number of wake-ups drops.
type patientReader struct{ f *os.File }

// patience is how long patientReader waits after a short read.
const patience = time.Millisecond

func (r patientReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err == nil && n < len(p)/2 {
		time.Sleep(patience)
	}
	return n, err
}
