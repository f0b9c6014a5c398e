package logfile

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestReopen: logrotate's way: rename, reopen; lines before go to the
// renamed file, lines after to the new one, and none is lost while writers
// run during the reopen.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	f, err := Open(path, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write([]byte("before\n"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				f.Write([]byte("x\n"))
			}
		})
	}
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	f.Write([]byte("after\n"))
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old[:7]) != "before\n" || string(cur[len(cur)-6:]) != "after\n" || len(old)+len(cur) != 7+800+6 {
		t.Fatalf("old %d bytes, new %d bytes", len(old), len(cur))
	}
	// A path that can no longer be opened: writes go on to the old file.
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	os.Remove(path)
	if os.Geteuid() != 0 {
		if err := f.Reopen(); err == nil {
			t.Fatal("reopen in a read-only directory succeeded")
		}
		if _, err := f.Write([]byte("still\n")); err != nil {
			t.Fatal(err)
		}
	}
}
