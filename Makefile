# dcimd: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/dcimd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/dcimd/dcimd/internal/app.Version=$(VERSION)
export CGO_ENABLED ?= 0

.PHONY: build run lab test test-short deps bench fuzz vet clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/dcimd

## run: build and start dcimd on the embedded SQLite database in ./data
run: build
	./$(BIN) serve

## lab: build and start dcimd with a simulated datacenter (BMCs, PDUs, inventory) on the same database
lab: build
	./$(BIN) lab

## deps: install the Debian packages the tests need (quiet when present)
deps:
	@./scripts/test-deps.sh

## test: install test dependencies, then run every test with the race detector
test: deps
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 25m ./...

test-short:
	CGO_ENABLED=1 $(GO) test -race -short ./...

## bench: benchmarks against real peers; results go to docs/benchmarks.md by hand
bench: deps
	$(GO) run ./bench/serverlist && $(GO) run ./bench/tasks && $(GO) run ./bench/fleetpower && $(GO) run ./bench/ipam && $(GO) run ./bench/switches && $(GO) run ./bench/tftp && $(GO) run ./bench/dhcp

fuzz:
	$(GO) test -run=XXX -fuzz=FuzzWhere -fuzztime=60s ./internal/listq/

## netboot: copy the iPXE loaders (undionly.kpxe, ipxe.efi, snponly.efi) and their
## licence from Debian's ipxe package into netboot/; nothing is built
IPXE_DIR ?= /usr/lib/ipxe
IPXE_DOC ?= /usr/share/doc/ipxe
.PHONY: netboot
netboot:
	@for f in undionly.kpxe ipxe.efi; do test -r $(IPXE_DIR)/$$f || { \
		echo "netboot: $(IPXE_DIR)/$$f is missing; install Debian's ipxe package (apt-get install ipxe)" >&2; exit 1; }; done
	@test -r $(IPXE_DOC)/copyright || { echo "netboot: $(IPXE_DOC)/copyright is missing (the ipxe licence)" >&2; exit 1; }
	install -m 0644 $(IPXE_DIR)/undionly.kpxe $(IPXE_DIR)/ipxe.efi netboot/
	if test -r $(IPXE_DIR)/snponly.efi; then install -m 0644 $(IPXE_DIR)/snponly.efi netboot/; fi
	install -m 0644 $(IPXE_DOC)/copyright netboot/COPYING.ipxe
	if test -r /usr/share/common-licenses/GPL-2; then install -m 0644 /usr/share/common-licenses/GPL-2 netboot/GPL-2; fi
	dpkg-query -W -f='$${Package} $${Version}\n' ipxe > netboot/VERSION.ipxe 2>/dev/null || echo "ipxe from $(IPXE_DIR)" > netboot/VERSION.ipxe

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
