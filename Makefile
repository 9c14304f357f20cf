# sluice — common developer tasks. "make help" lists them.

export PATH := $(PATH):/usr/local/go/bin

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/sluice-cdc/sluice/internal/cli.Version=$(VERSION)
BIN      := bin/sluice
CONFIG   ?= configs/examples/minimal.yaml
FUZZTIME ?= 10s

.PHONY: help deps build run test bench fuzz lint clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

deps: ## install the Debian packages sluice and its tests use, when missing
	@bash .ci/run deps

build: ## build bin/sluice
	go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sluice

run: deps build ## build and run the daemon with $(CONFIG)
	./$(BIN) run --config $(CONFIG)

test: ## everything CI checks: gofmt, vet, all tests, race detector (installs missing packages)
	@bash .ci/run

bench: ## run the Go benchmarks (records/s and bytes/s are reported per benchmark)
	go test -run '^$$' -bench . -benchmem ./...

fuzz: ## run every fuzz target for $(FUZZTIME) each
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		dir=$$(dirname $$f); \
		for t in $$(grep -oE '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
			echo "== $$dir $$t"; \
			go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$dir; \
		done; \
	done

lint: ## gofmt and go vet (and staticcheck when installed)
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path './tmp/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l); \
		if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	go vet ./...
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; fi

clean: ## remove build output and scratch data
	rm -rf bin tmp
