package testdb

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// setServerAttrs puts a server in its own process group, so that Kill
// reaches every process of it, and has the kernel SIGKILL it when the test
// process dies, so that a killed `go test` leaves no server running.
//
// The kernel sends the parent-death signal when the OS thread that started
// the child exits; Go keeps its threads for the life of the process unless a
// goroutine locked to one with runtime.LockOSThread exits, so do not start
// servers from such a goroutine.
func setServerAttrs(attr *syscall.SysProcAttr) {
	attr.Setpgid = true
	attr.Pdeathsig = syscall.SIGKILL
}

// groupAlive reports whether a process in process group pgid is still
// running. Zombies do not count: they hold no memory, files or ports, and
// orphaned ones may never be reaped when PID 1 does not reap.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(stat[i+1:])
		if len(fields) < 3 || string(fields[0]) == "Z" || string(fields[0]) == "X" {
			continue
		}
		if pgrp, err := strconv.Atoi(string(fields[2])); err == nil && pgrp == pgid {
			return true
		}
	}
	return false
}
