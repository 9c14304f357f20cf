package configs

import (
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("examples", "full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Getenv: noEnv, Kinds: testKinds}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("full.yaml", data, opts); err != nil {
			b.Fatal(err)
		}
	}
}
