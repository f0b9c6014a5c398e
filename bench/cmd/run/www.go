package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// wwwFile is one file the static scenarios serve.
type wwwFile struct {
	Name string
	Body []byte
}

// wwwFiles are written into www/ at start-up, and every static server's answers
// are compared with them before it is measured.
var wwwFiles = []wwwFile{
	{Name: "hello.txt", Body: []byte("Hello, World!")},
	{Name: "64k.bin", Body: pseudoRandom(64 << 10)},
	{Name: "page64k.html", Body: page64k}, // the compression scenarios'
}

// pseudoRandom returns n bytes that are the same on every run (a fixed PCG
// seed), so every run and every server serves identical content, and that do
// not compress, so nothing along the way can shrink them.
func pseudoRandom(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// makeScratch creates the runner's temporary directory, with www/ holding
// wwwFiles, and arranges for it to be removed on every exit path once the
// servers using it have stopped.
func makeScratch(cfg *config) error {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	children.atClose(func() { os.RemoveAll(dir) })
	cfg.scratch = dir
	cfg.www = filepath.Join(dir, "www")
	// Readable by all: nginx started as root serves files from worker processes
	// that run as an unprivileged user (nobody), and MkdirTemp's 0700 would
	// shut them out. Chmod, not the create modes, so a strict umask cannot.
	if err := os.Mkdir(cfg.www, 0o755); err != nil {
		return err
	}
	for _, d := range []string{dir, cfg.www} {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	for _, f := range wwwFiles {
		path := filepath.Join(cfg.www, f.Name)
		if err := os.WriteFile(path, f.Body, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			return err
		}
	}
	return nil
}
