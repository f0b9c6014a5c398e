package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProcPython(t *testing.T) {
	dir := ShortTempDir(t)
	sock := filepath.Join(dir, "s")
	p := Start(t, []string{"GREETING=hi"}, "/usr/bin/python3", "-c", `
import os, socket, time
s = socket.socket(socket.AF_UNIX)
s.bind(`+"'"+sock+"'"+`)
s.listen()
print(os.environ["GREETING"], flush=True)
time.sleep(60)
`)
	p.WaitDial(t, "unix:"+sock)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Output(), "hi") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(p.Output(), "hi") {
		t.Fatalf("output %q", p.Output())
	}
	p.Stop(time.Second)
	if !p.Exited() {
		t.Fatal("not stopped")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
