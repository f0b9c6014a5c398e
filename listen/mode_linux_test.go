package listen

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The test binary doubles as the probe: run as another user, it tries to
// connect to every socket that appears in a directory.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GATEHOUSE_LISTEN_PROBE"); dir != "" {
		os.Exit(probe(dir))
	}
	if path := os.Getenv("GATEHOUSE_LISTEN_CONNECT"); path != "" {
		if err := connectUnix(path); err != nil {
			os.Stdout.WriteString(err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func connectUnix(path string) error {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
	if err == syscall.EAGAIN {
		return nil // listening and allowed; only its backlog is full
	}
	return err
}

// probe watches dir with inotify and, for every name created or renamed into
// it, connects over and over until the connect succeeds (reported on stdout
// as "connected NAME"), is refused for good (EACCES: the mode is set; ENOENT:
// the name is gone), or 50 ms pass. A file named "stop" ends it.
func probe(dir string) int {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		return 2
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	out.WriteString("ready\n")
	out.Flush()
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(fd, buf)
		if err != nil {
			return 2
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			if name == "stop" {
				out.Flush()
				return 0
			}
			path := filepath.Join(dir, name)
			for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
				err := connectUnix(path)
				if err == nil {
					out.WriteString("connected " + name + "\n")
					break
				}
				if err == syscall.EACCES || err == syscall.ENOENT {
					break
				}
			}
		}
		out.Flush()
	}
}

// asNobody prepares the test binary to run as nobody: a copy others may run,
// and the ids to run it with.
func asNobody(t *testing.T, dir string) (exe string, cred *syscall.Credential) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a probe as another user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe = filepath.Join(dir, "probe")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return exe, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// publicDir is a directory anybody may enter, so only the socket's own mode
// decides who connects.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gatehouse-listen-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// With a permissive umask, a socket asked for with mode 0600 must never take
// a connection from another user: not under its temporary name, not under
// its final one, not for an instant. The probe, run as nobody, races every
// start; a control socket with mode 0666 shows it can connect when allowed.
func TestUnixModeBeforeReachable(t *testing.T) {
	bin := publicDir(t)
	exe, cred := asNobody(t, bin)
	dir := filepath.Join(bin, "s")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_LISTEN_PROBE="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	defer func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	lines := make(chan string, 1024)
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		cmd.Wait()
	}()
	select {
	case l := <-lines:
		if l != "ready" {
			t.Fatalf("probe: %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the probe did not start")
	}

	control := filepath.Join(dir, "control.sock")
	l, err := Listen(context.Background(), Config{Addr: "unix:" + control, Mode: 0o666})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-lines:
		if got != "connected control.sock" {
			t.Fatalf("probe on the 0666 control socket: %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the probe, as nobody, could not connect to a 0666 socket: it proves nothing")
	}
	l.Close()

	starts := 0
	for end := time.Now().Add(10 * time.Second); starts < 500 && time.Now().Before(end); starts++ {
		path := filepath.Join(dir, "g"+strconv.Itoa(starts)+".sock")
		l, err := Listen(context.Background(), Config{Addr: "unix:" + path, Mode: 0o600})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Fatalf("start %d: mode %v uid %d, want 0600 root's", starts, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
		}
		l.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var connected []string
	for l := range lines {
		connected = append(connected, l)
	}
	if len(connected) > 0 {
		t.Fatalf("in %d starts of a 0600 socket, nobody connected %d times: %v", starts, len(connected), connected)
	}
	t.Logf("%d starts, no connection from nobody", starts)
}

// The final mode and owner, under a permissive umask, decide who connects:
// nobody connects to a 0600 socket it owns, and not to one root owns.
func TestUnixFinalModeAndOwner(t *testing.T) {
	bin := publicDir(t)
	exe, cred := asNobody(t, bin)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	connect := func(path string) error {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "GATEHOUSE_LISTEN_CONNECT="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.Output()
		if err != nil {
			return errors.New(string(out))
		}
		return nil
	}
	for _, tc := range []struct {
		owner   string
		uid     uint32
		connect bool
	}{
		{"", 0, false},
		{"nobody", cred.Uid, true},
		{"nobody:" + strconv.Itoa(int(cred.Gid)), cred.Uid, true},
	} {
		path := filepath.Join(bin, "o.sock")
		l, err := Listen(context.Background(), Config{Addr: "unix:" + path, Mode: 0o600, Owner: tc.owner})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o600 || st.Uid != tc.uid {
			t.Errorf("owner %q: mode %v uid %d, want 0600 uid %d", tc.owner, fi.Mode(), st.Uid, tc.uid)
		}
		err = connect(path)
		if tc.connect && err != nil {
			t.Errorf("owner %q: nobody could not connect: %v", tc.owner, err)
		}
		if !tc.connect && err == nil {
			t.Errorf("owner %q: nobody connected to root's 0600 socket", tc.owner)
		}
		l.Close()
	}
}
