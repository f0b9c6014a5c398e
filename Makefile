# One Makefile for people and CI. `make test` is what .ci/run calls.
GO        ?= go
FUZZTIME  ?= 30s
# Minimising a new input is bounded too: go test's default, 60s, can spend
# nearly all of a short FUZZTIME minimising instead of fuzzing.
FUZZMINIMIZETIME ?= 1s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build test race fuzz bench lint deps clean

all: build

build:
	$(GO) build -o bin/gatehouse ./cmd/gatehouse

deps:
	scripts/deps.sh test

# Installs what the tests need, then runs every test (unit, corpus, end-to-end
# with curl) and the seed corpora of every fuzz target.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	cd bench && $(GO) vet ./...

race: deps
	$(GO) test -race -count=1 ./...

# Runs each native fuzz target for FUZZTIME; crashers land in testdata/fuzz.
# Turn each into a named regression case beside the rule it breaks.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	  done; \
	done

# Side-by-side benchmarks against net/http, fasthttp, gnet and nginx (see bench/README.md).
bench:
	scripts/deps.sh bench
	cd bench && $(GO) run ./cmd/run $(BENCHFLAGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd bench && $(GO) vet ./... && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin bench/bin
