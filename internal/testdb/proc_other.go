//go:build unix && !linux

package testdb

import "syscall"

// setServerAttrs puts a server in its own process group, so that Kill
// reaches every process of it. Outside Linux there is no parent-death
// signal: a killed `go test` may leave servers running.
func setServerAttrs(attr *syscall.SysProcAttr) {
	attr.Setpgid = true
}

// groupAlive reports whether a process in process group pgid still exists.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}
