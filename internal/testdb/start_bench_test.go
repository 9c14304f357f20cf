package testdb

import "testing"

// The start-up benchmarks measure a server's whole start: creating the
// data directory, starting, and waiting until it accepts connections. Each
// iteration stops its server; the directories go when the benchmark ends.
// Run them with a small -benchtime, for example -benchtime=5x.

func BenchmarkStartPostgres(b *testing.B) {
	for b.Loop() {
		StartPostgres(b).Stop()
	}
}

func BenchmarkStartMariaDB(b *testing.B) {
	for b.Loop() {
		StartMariaDB(b).Stop()
	}
}

func BenchmarkRestartPostgres(b *testing.B) {
	pg := StartPostgres(b)
	for b.Loop() {
		pg.Restart(b)
	}
}

func BenchmarkRestartMariaDB(b *testing.B) {
	m := StartMariaDB(b)
	for b.Loop() {
		m.Restart(b)
	}
}
