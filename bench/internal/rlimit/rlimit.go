// Package rlimit raises the open-file limit of the benchmark processes.
package rlimit

import "syscall"

// RaiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit. The idle10k scenario
// holds 10,000 connections open against one process, more than the usual soft
// default of 1024. The Go runtime has done the same at start-up since Go 1.19;
// doing it explicitly keeps the scenario working however the process is started
// and makes the requirement visible where it matters.
func RaiseNoFile() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur >= l.Max {
		return nil
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}
