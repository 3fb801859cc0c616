# linkcheck: the two commands of the quick start are `make demo` and `make test`.
GO ?= go
BIN := bin/linkcheck

.PHONY: all build tools test vet fmt-check demo fuzz-smoke clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/linkcheck

# tools installs the external oracles when `linkcheck doctor` finds one missing.
tools:
	@$(GO) run ./cmd/linkcheck doctor -q || bash ci/install-tools.sh

test: tools
	LINKCHECK_REQUIRE_TOOLS=1 $(GO) test -timeout 30m ./...
	$(MAKE) fuzz-smoke
	$(GO) vet ./...
	$(MAKE) fmt-check

# fuzz-smoke runs each incremental fuzz target for a short while (-fuzz takes one target at a time).
# It starts from the committed seeds only: a fresh -test.fuzzcachedir per run keeps the corpus that
# long campaigns accumulate in $GOCACHE/fuzz out of the smoke run, whose baseline-coverage pass
# would otherwise grow with every campaign until it no longer fits in FUZZTIME. FuzzIncrementalCOFF's
# baseline over its seeds (unicorn runs) alone came close to 20 s, and failed once with "context
# deadline exceeded" when it did not fit: 45 s leaves room.
FUZZ_TARGETS := FuzzIncrementalELF FuzzIncrementalMachO FuzzIncrementalCOFF FuzzIncrementalWasm FuzzErrorTable FuzzTrampoline FuzzGOT
FUZZTIME ?= 45s
fuzz-smoke:
	@cache=$$(mktemp -d) && trap 'rm -rf "$$cache"' EXIT && \
	for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		LINKCHECK_REQUIRE_TOOLS=1 $(GO) test ./fuzz -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10x \
			-args -test.fuzzcachedir="$$cache/$$t" || exit 1; \
	done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

demo: tools build
	./$(BIN) doctor
	LC=./$(BIN) bash ci/demo.sh

clean:
	rm -rf bin
