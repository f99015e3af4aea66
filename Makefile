# Makefile — shortcuts for the course toolkit. Run `make` to list them.
#
# Examples:
#   make demo                              publish 3 events, then replay them
#   make listen                            follow events (Ctrl-C to stop)
#   make publish ARGS="--count 5"          pass options to the tool
#   NATS_URL=nats://localhost:4333 make listen   use another server
#   NATS_PORT=4333 make server             run the local server on another port

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Extra command-line options for `make publish` / `make listen`.
ARGS ?=

.PHONY: help install-server server server-stop server-status build publish listen demo test test-all clean distclean
.PHONY: status demos demo-publish-listen demo-queue-groups demo-manual-ack demo-deliver-all
.PHONY: demo-durable demo-graceful-shutdown demo-health demo-crash-redelivery port-forward watch
.PHONY: demo-nak-term demo-poison-event demo-interactive

help: ## List the targets
	@echo "Usage: make <target> [ARGS=\"...\"]"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-24s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install-server: ## Install nats-server (>= 2.10) into .nats/bin if none is found
	@scripts/install-nats-server.sh

server: ## Start a local JetStream nats-server in the background
	@scripts/nats-server.sh start

server-stop: ## Stop the local nats-server
	@scripts/nats-server.sh stop

server-status: ## Tell whether the local nats-server is running
	@scripts/nats-server.sh status || [ $$? -eq 3 ]

build: ## Build the publish, listen and status tools (debug)
	@cargo build --bins

publish: build ## Publish course events (starts a local server if needed); ARGS="..." for options
	@NATS_STARTED_BY="make $@" scripts/nats-server.sh ensure
	@./target/debug/publish $(ARGS)

watch: build ## Publish events/ticket-created.json, and again on every save of it (Ctrl-C to stop)
	@NATS_STARTED_BY="make $@" scripts/nats-server.sh ensure
	@./target/debug/publish --watch --data-file events/ticket-created.json $(ARGS)

listen: build ## Listen to course events (starts a local server if needed); ARGS="..." for options
	@NATS_STARTED_BY="make $@" scripts/nats-server.sh ensure
	@./target/debug/listen $(ARGS)

demo: ## Publish 3 events, then replay the history with a new listener
	@scripts/demo.sh

# One demo per lesson of the course (scripts/demo/): each starts the local
# server if needed, runs listeners in the background and checks its lesson.
demo-publish-listen: build ## Lesson 1: a listener prints what a publisher sends
	@scripts/demo/publish-listen.sh

demo-queue-groups: build ## Lesson 2: a queue group's members share the events
	@scripts/demo/queue-groups.sh

demo-manual-ack: build ## Lesson 3: an event not acked is delivered again
	@scripts/demo/manual-ack.sh

demo-deliver-all: build ## Lesson 4: a late listener replays the history
	@scripts/demo/deliver-all.sh

demo-durable: build ## Lesson 5: a restarted durable listener gets only what it missed
	@scripts/demo/durable.sh

demo-graceful-shutdown: build ## Lesson 6: Ctrl-C removes the subscription at once, kill -9 does not
	@scripts/demo/graceful-shutdown.sh

demo-health: build ## Lesson 7: what the monitoring port shows
	@scripts/demo/health.sh

demo-crash-redelivery: build ## Lesson 8: a crashed member's unacked events go to another member
	@scripts/demo/crash-redelivery.sh

demo-nak-term: build ## Lesson 9: ack, no ack, nak and term side by side
	@scripts/demo/nak-term.sh

demo-poison-event: build ## Lesson 10: a poison event: backoff, --max-deliver, a dead-letter channel
	@scripts/demo/poison-event.sh

demo-interactive: build ## Lesson 11: decide each event's fate by key (listen --interactive)
	@scripts/demo/interactive.sh

# The README's picture: the manual-ack lesson at its third delivery, as
# `status --svg` draws it (every demo writes its own to target/lessons/).
.PHONY: pictures
pictures: build ## Rebuild the README's picture, docs/img/manual-ack.svg, from the manual-ack lesson's demo
	@DEMO_PICTURES_DIR=docs/img scripts/demo/manual-ack.sh

demos: demo-publish-listen demo-queue-groups demo-manual-ack demo-deliver-all demo-durable demo-graceful-shutdown demo-health demo-crash-redelivery demo-nak-term demo-poison-event ## Run every lesson demo, in order (tmux presses lesson 11's keys)
	@DEMO_DRIVE=tmux scripts/demo/interactive.sh

status: build ## Show each channel's events and where every subscription stands; ARGS="CHANNEL", "--live", "--json"
	@./target/debug/status $(ARGS)

port-forward: ## Forward the cluster's NATS pod to localhost:4222 and :8222 (POD=name to choose)
	@scripts/port-forward.sh

# A 3-node JetStream cluster on this machine (scripts/nats-cluster.sh). Kill and
# restart single nodes with `scripts/nats-cluster.sh kill|restart n1|n2|n3`.
.PHONY: cluster cluster-status cluster-stop
cluster: ## Start a local 3-node JetStream cluster (ports 4231-4233) and print its NATS_URL
	@scripts/nats-cluster.sh start

cluster-status: ## Show the cluster's nodes, JetStream leaders and the events each node holds
	@scripts/nats-cluster.sh status || [ $$? -eq 3 ]

cluster-stop: ## Stop the local 3-node cluster (the stores in .nats/cluster/ are kept)
	@scripts/nats-cluster.sh stop

test: ## Check formatting, scripts, clippy and docs, and run the tests (of the 3-node cluster ones only kill-mid-replay: make test-all)
	@scripts/test.sh

test-all: ## make test, the 3-node cluster tests and a 30 s chaos run with a fixed seed (what CI runs)
	@scripts/test.sh all

clean: ## Remove build output and stop the local server and cluster
	cargo clean
	@scripts/nats-server.sh stop
	@scripts/nats-cluster.sh stop

distclean: clean ## Also remove .nats/ (server binary, JetStream data, logs)
	rm -rf .nats

.PHONY: bench chaos chaos-cheats completions man install uninstall

install: ## Install publish, listen and status into ~/.cargo/bin (on your PATH with rustup), release build
	cargo install --locked --path . --bins $(INSTALL_ARGS)
	@echo "Installed publish, listen and status into $${CARGO_INSTALL_ROOT:-$${CARGO_HOME:-$$HOME/.cargo}}/bin."
	@echo "Shell completions: 'make completions', then see README.md (Shell completions and man pages)."

uninstall: ## Remove the installed publish, listen and status (cargo uninstall)
	cargo uninstall nats-course-cli

# The binaries that get completion scripts and man pages; a new one is one word here
# (and one line in nats_course_cli::commands() for its man page).
BINARIES := publish listen status
SHELLS := bash zsh fish elvish powershell
BIN_DIR = $${CARGO_TARGET_DIR:-target}/debug

completions: ## Write every binary's completion scripts (bash, zsh, fish, elvish, powershell) into target/completions/
	@cargo build --bins
	@mkdir -p target/completions
	@for bin in $(BINARIES); do \
		for shell in $(SHELLS); do \
			case $$shell in \
				bash) file=$$bin.bash ;; zsh) file=_$$bin ;; fish) file=$$bin.fish ;; \
				elvish) file=$$bin.elv ;; powershell) file=_$$bin.ps1 ;; \
			esac; \
			"$(BIN_DIR)/$$bin" --completions $$shell > target/completions/$$file || exit 1; \
			echo "target/completions/$$file"; \
		done; \
	done

man: ## Write a man page per binary into target/man/ (man target/man/publish.1)
	@cargo run --quiet --example man -- target/man

bench: ## Time publish and listen against plain async-nats programs, cost curves to 1M events, a 3-node cluster (release build, own servers; ~10 min)
	@NATS_SERVER_BIN="$$(scripts/install-nats-server.sh | tail -n1)" cargo bench --bench toolkit

chaos: ## Chaos run: 300000 events through a 3-node cluster while nodes and listeners fail (CHAOS_SECONDS=120, CHAOS_EVENTS, CHAOS_SEED to replay, CHAOS_LISTEN; not in make test)
	@NATS_SERVER_BIN="$$(scripts/install-nats-server.sh | tail -n1)" CHAOS_SECONDS="$${CHAOS_SECONDS:-120}" \
		CHAOS_EVENTS="$${CHAOS_EVENTS:-300000}" cargo test --test chaos -- --ignored --nocapture --exact chaos_run_loses_and_duplicates_nothing

chaos-cheats: ## Prove the chaos run catches a cheating listen (lines twice, data replaced, SIGINT ignored, exit 3): four 15 s runs
	@NATS_SERVER_BIN="$$(scripts/install-nats-server.sh | tail -n1)" \
		cargo test --test chaos -- --ignored --nocapture --test-threads=1 cheating_listen_
