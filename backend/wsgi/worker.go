package wsgi

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

//go:embed worker.py
var workerSource string

// loader reads the worker's source from descriptor 3 and runs it.
const loader = "import os;f=os.fdopen(3,encoding='utf-8');s=f.read();f.close();exec(compile(s,'gatehouse-wsgi-worker','exec'))"

// sourcePipe returns the read end of a pipe holding the worker's source. It
// fits in the pipe's buffer, so the write does not wait for the reader.
func sourcePipe() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	_, err = w.WriteString(workerSource)
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("wsgi: pipe: %w", err)
	}
	return r, nil
}

const (
	stateStarting int32 = iota
	stateReady
	stateRetiring // serving its last requests; gets no new ones
	stateDead
)

var stateNames = [...]string{"starting", "ready", "retiring", "dead"}

// worker is one Python process and its slots (one per thread).
type worker struct {
	p     *Pool
	id    int // 1..Workers; a replacement takes the same id
	gen   int // how many processes this id has had
	cmd   *exec.Cmd
	pid   int
	slots []*slot
	limit int64 // requests before recycling; 0: none

	state    atomic.Int32
	served   atomic.Int64
	inflight atomic.Int32
	started  time.Time

	exited  chan struct{}
	exitErr error
	tailMu  sync.Mutex
	// tail is the last lines of its output, for the error of a failed start
	// or a death; until the worker is live they are also what it logs then.
	tail     []outputLine
	live     bool // started: output goes to the log as it comes
	outDone  chan struct{}
	termOnce sync.Once
	dumping  atomic.Bool // its stacks are being dumped: its output is the dump (output.go)
}

// outputLine is a line of the worker's output, with the level it is logged
// at.
type outputLine struct {
	line  string
	level slog.Level
}

// slot is one connection to one worker thread. It runs one request at a time,
// and may hold a few more queued behind it: their R frames are written while
// the first runs, so the worker goes on to them without sleeping.
type slot struct {
	w     *worker
	fc    *frameConn
	timer *time.Timer // the request timeout; nil when there is none

	depth atomic.Int32 // requests on the slot: 0 idle, 1 running, more: queued behind it
	began atomic.Int64 // when the running request got the slot (monotonic ns)
	took  atomic.Int64 // how long the last request that ended on it ran (ns)
	// turn[seq%maxDepth] hands the slot to request seq when the one before it
	// ends, with news of the worker; wait[seq%maxDepth] is the place's state
	// (placeWaiting, placeGiven, placeWithdrawn).
	turn [maxDepth]chan turnState
	wait [maxDepth]atomic.Int32
	// queuedBytes counts the R frames of the queued requests, size each one
	// (0 for a request that did not queue).
	queuedBytes atomic.Int64
	size        [maxDepth]int64
	budget      int64 // queueBudget of the pipe to the worker

	sendMu sync.Mutex // held while a place is taken and its R frame written, so seq follows both
	seq    uint32     // R frames written so far (under sendMu)
}

// arm starts the request timeout: when it strikes, the worker's Python stacks
// go to the log and the worker is killed, which ends the request's blocked
// read or write.
func (s *slot) arm(d time.Duration) {
	if d <= 0 {
		return
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.expire)
		return
	}
	s.timer.Reset(d)
}

func (s *slot) expire() {
	s.w.p.dumpAndKill(s.w, "request over its timeout of "+s.w.p.cfg.Timeout.String())
}

// disarm stops the timeout of the current request (armed as its turn began); it
// reports false if the timeout struck.
func (s *slot) disarm() bool {
	return s.timer == nil || s.timer.Stop()
}

func (w *worker) String() string { return fmt.Sprintf("worker %d (pid %d)", w.id, w.pid) }

// spawn starts a worker process for id and waits until it has imported the
// application and every slot has said it is ready.
func (p *Pool) spawn(id, gen int) (*worker, error) {
	cfg := &p.cfg
	w := &worker{p: p, id: id, gen: gen, exited: make(chan struct{}), outDone: make(chan struct{})}
	var childFiles []*os.File
	var fdList []string
	closeAll := func() {
		for _, f := range childFiles {
			f.Close()
		}
		for _, s := range w.slots {
			s.fc.close()
		}
	}
	next := 4 // ExtraFiles start at descriptor 3, the source
	for range cfg.Threads {
		fc, child, err := newFrameConn()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("wsgi: pipes for a worker: %w", err)
		}
		s := &slot{w: w, fc: fc, budget: queueBudget(fc.inCap)}
		for i := range s.turn {
			s.turn[i] = make(chan turnState, 1)
		}
		w.slots = append(w.slots, s)
		childFiles = append(childFiles, child...)
		fdList = append(fdList, fmt.Sprintf("%d:%d:%d", next, next+1, next+2))
		next += 3
	}
	// The worker's source comes through a pipe (descriptor 3), so the command
	// line stays short in ps: python3 -c <loader> gatehouse-wsgi MODULE:APP FDS.
	src, err := sourcePipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	childFiles = append([]*os.File{src}, childFiles...)
	cmd := exec.Command(cfg.Python, "-c", loader, "gatehouse-wsgi", cfg.App, strings.Join(fdList, ","))
	cmd.Dir = cfg.Chdir
	cmd.Env = append(append(os.Environ(), cfg.Env...), "GATEHOUSE_WORKER="+strconv.Itoa(id), "PYTHONUNBUFFERED=1")
	cmd.ExtraFiles = childFiles
	// Its own process group (signals to gatehouse's terminal do not reach it);
	// killed with gatehouse if gatehouse dies (Pdeathsig).
	cmd.SysProcAttr = workerProcAttr()
	// stdout and stderr apart: their lines are logged at different levels
	// (output.go).
	out, err := cmd.StdoutPipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("wsgi: start %s: %w", cfg.Python, err)
	}
	for _, f := range childFiles {
		f.Close() // the child has its copies
	}
	childFiles = nil
	w.cmd, w.pid, w.started = cmd, cmd.Process.Pid, time.Now()
	var relays sync.WaitGroup
	relays.Add(2)
	go w.relayOutput(out, streamStdout, &relays)
	go w.relayOutput(errOut, streamStderr, &relays)
	go func() {
		relays.Wait()
		close(w.outDone)
	}()
	go func() {
		<-w.outDone // Wait closes the pipe; read it all first
		w.exitErr = cmd.Wait()
		prev := w.state.Swap(stateDead)
		close(w.exited)
		p.workerExited(w, prev)
	}()

	if err := w.awaitReady(cfg.StartTimeout); err != nil {
		w.kill()
		<-w.exited
		closeAll()
		return nil, err
	}
	if cfg.MaxRequests > 0 {
		w.limit = int64(cfg.MaxRequests)
		if cfg.MaxRequestsJitter > 0 {
			w.limit += int64(p.jitter(cfg.MaxRequestsJitter + 1))
		}
	}
	w.goLive()
	w.state.Store(stateReady)
	return w, nil
}

// awaitReady reads the Y frame of every slot.
func (w *worker) awaitReady(timeout time.Duration) error {
	var late atomic.Bool
	timer := time.AfterFunc(timeout, func() { late.Store(true); w.kill() })
	defer timer.Stop()
	for _, s := range w.slots {
		t, n, err := s.fc.next()
		if err == nil && (t != frameReady || n != 0) {
			err = errProtocol
		}
		if err != nil {
			select {
			case <-w.exited:
			case <-time.After(2 * time.Second): // alive, but broken: end it
				w.kill()
				<-w.exited
			}
			var msg string
			var ee *exec.ExitError
			switch {
			case late.Load():
				msg = fmt.Sprintf("wsgi: worker %d did not start within %v", w.id, timeout)
			case errors.As(w.exitErr, &ee) && ee.ExitCode() == 3: // worker.py: the import failed
				return w.importError()
			case w.exitErr != nil:
				msg = fmt.Sprintf("wsgi: worker %d did not start (%v)", w.id, w.exitErr)
			default:
				msg = fmt.Sprintf("wsgi: worker %d did not start: %v", w.id, err)
			}
			if tail := w.outputTail(); tail != "" {
				msg += ":\n" + tail
			}
			return errors.New(msg)
		}
	}
	return nil
}

// interpreterMark starts the line worker.py writes last when the import
// fails: the interpreter's real path and version.
const interpreterMark = "gatehouse-wsgi interpreter: "

// importError is the error of a worker whose application did not import:
// Python's own message, which Python tried (python3 on PATH may not be the
// interpreter that has the application's packages: pyenv's shim, another
// version), and how to choose another.
func (w *worker) importError() error {
	lines := w.outputLines()
	which := w.p.cfg.Python
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, interpreterMark); ok {
			which, lines = v, slices.Delete(lines, i, i+1)
			break
		}
	}
	return fmt.Errorf("wsgi: cannot load the application %q with the Python at %s:\n%s\n"+
		"(if the application's packages are installed for another Python, run that one: "+
		"--python PATH or --venv DIR; python or venv in the wsgi table)",
		w.p.cfg.App, which, strings.Join(lines, "\n"))
}

// relayOutput logs one of the worker's output streams line by line, each
// at its level (output.go), keeping the last lines for start-up errors.
func (w *worker) relayOutput(r interface{ Read([]byte) (int, error) }, s stream, done *sync.WaitGroup) {
	defer done.Done()
	var trace traceState
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		level := trace.level(s, line)
		if w.dumping.Load() {
			level = slog.LevelError
		}
		w.tailMu.Lock()
		w.tail = append(w.tail, outputLine{line, level})
		if len(w.tail) > 60 {
			w.tail = w.tail[len(w.tail)-60:]
		}
		live := w.live
		w.tailMu.Unlock()
		if live {
			w.logOutput(line, level)
		}
	}
}

func (w *worker) logOutput(line string, level slog.Level) {
	w.p.log.Log(context.Background(), level, "wsgi worker output", "worker", w.id, "pid", w.pid, "line", line)
}

// goLive logs what the worker wrote while it started (held back until then:
// a failed start reports it once, in its error) and lets the rest through.
func (w *worker) goLive() {
	w.tailMu.Lock()
	defer w.tailMu.Unlock()
	for _, h := range w.tail {
		w.logOutput(h.line, h.level)
	}
	w.live = true
}

// outputLines returns the lines of the tail.
func (w *worker) outputLines() []string {
	w.tailMu.Lock()
	defer w.tailMu.Unlock()
	lines := make([]string, len(w.tail))
	for i, h := range w.tail {
		lines[i] = h.line
	}
	return lines
}

func (w *worker) outputTail() string { return strings.Join(w.outputLines(), "\n") }

// terminate ends the worker: its sockets closed (its threads see EOF and
// return), SIGTERM, then SIGKILL after the graceful timeout.
func (w *worker) terminate() {
	w.termOnce.Do(func() {
		for _, s := range w.slots {
			s.fc.close()
		}
		syscall.Kill(w.pid, syscall.SIGTERM)
		go func() {
			select {
			case <-w.exited:
			case <-time.After(w.p.cfg.GracefulTimeout):
				w.kill()
			}
		}()
	})
}

func (w *worker) kill() { syscall.Kill(w.pid, syscall.SIGKILL) }

// rss returns the worker's resident set size in bytes (0 if unknown).
func (w *worker) rss() int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(w.pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
