# Reasoning Agent API — every developer task is a target here; `make help` lists them.
# Set-up is two commands on a fresh machine: `make run` and `make test` install what
# they need (uv, the app's locked environment, LiteLLM in its own environment).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
VENV := .venv
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/uv/bin/uv)
LITELLM_ENV := $(TOOLS)/litellm
PHOENIX_ENV := $(TOOLS)/phoenix
DEPLOYED_ENV := $(TOOLS)/deployed
PORTKEY_DIR := $(TOOLS)/portkey
# The fake model's port for `make fake-upstream` (`make run-demo` reads FAKE_MODEL_PORT from .env).
FAKE_MODEL_PORT ?= 9100
# Never let uv fetch an interpreter from the internet: use the machine's Python (>= 3.11).
export UV_PYTHON_DOWNLOADS := never

.PHONY: help
help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---- installation -----------------------------------------------------------------

$(TOOLS)/uv/bin/uv:
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet uv==$(UV_VERSION)

# --compile-bytecode, as the image does (Dockerfile): where Python writes no .pyc files itself
# (PYTHONDONTWRITEBYTECODE, a read-only venv) every start compiled every module again; the
# price table's 1.6 MB source alone took a second and a 56 MB passing peak of memory.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

# The runtime dependencies alone, as the image installs them: the bench runs our servers on it.
$(DEPLOYED_ENV)/.installed: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(DEPLOYED_ENV) $(UV) sync --frozen --no-dev --compile-bytecode --python $(PYTHON)
	@touch $@

$(LITELLM_ENV)/.installed: scripts/requirements/litellm.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LITELLM_ENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(LITELLM_ENV)/bin/python scripts/requirements/litellm.txt
	@touch $@

$(PHOENIX_ENV)/.installed: scripts/requirements/phoenix.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(PHOENIX_ENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(PHOENIX_ENV)/bin/python scripts/requirements/phoenix.txt
	@touch $@

# Portkey's gateway for the bench, pinned by bench/portkey/package-lock.json (`npm ci`: the lock as is).
$(PORTKEY_DIR)/.installed: bench/portkey/package.json bench/portkey/package-lock.json
	mkdir -p $(PORTKEY_DIR)
	cp bench/portkey/package.json bench/portkey/package-lock.json $(PORTKEY_DIR)/
	cd $(PORTKEY_DIR) && npm ci --omit=dev --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Install the app and dev tools into .venv from uv.lock

.PHONY: install-litellm
install-litellm: $(LITELLM_ENV)/.installed ## Install the LiteLLM proxy into its own environment (.tools/litellm)

.PHONY: install-deployed
install-deployed: $(DEPLOYED_ENV)/.installed ## Install the runtime dependencies alone (no dev group, as in the image) into .tools/deployed for the bench's servers

.PHONY: install-portkey
install-portkey: $(PORTKEY_DIR)/.installed ## Install Portkey's open-source gateway (Node, npm) into .tools/portkey for the bench

.PHONY: install-browser
install-browser: ## Install Debian's chromium for the browser tests when /usr/bin/chromium is missing (root + apt)
	@scripts/ensure_chromium.sh

.PHONY: install-phoenix
install-phoenix: $(PHOENIX_ENV)/.installed ## Install Phoenix (traces UI, ~850 MB) into its own environment (.tools/phoenix)

.PHONY: lock
lock: | $(UV) ## Re-resolve uv.lock and the LiteLLM and Phoenix requirements after changing dependencies
	$(UV) lock --python $(PYTHON)
	$(UV) pip compile --quiet --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		scripts/requirements/litellm.in -o scripts/requirements/litellm.txt
	$(UV) pip compile --quiet --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		scripts/requirements/phoenix.in -o scripts/requirements/phoenix.txt

.env:
	cp .env.dev.example .env
	@echo "Created .env from .env.dev.example: put your OPENAI_API_KEY there to reach OpenAI."

# ---- running ------------------------------------------------------------------------

.PHONY: run
run: install install-litellm .env ## Run the local stack (LiteLLM :4000, MCP demo :8001, API :8000, web client :8080, Phoenix :6006 when installed); Ctrl-C stops all
	$(VENV)/bin/python scripts/run_stack.py

.PHONY: run-demo
run-demo: install install-litellm .env ## Run the stack against the fake model (no API key needed), with the demo A2A agent :8002
	$(VENV)/bin/python scripts/run_stack.py --demo

.PHONY: migrate
migrate: install ## Upgrade the audit database (DATABASE_URL, from the environment or .env) to the newest schema
	$(VENV)/bin/python -m api.audit.migrate upgrade

.PHONY: web-client
web-client: install .env ## Run only the web client on :8080 (WEB_CLIENT_* settings, gateway at WEB_CLIENT_GATEWAY_URL)
	$(VENV)/bin/python -m web_client

WEB_VENDOR := web_client/static/vendor

.PHONY: web-client-vendor
web-client-vendor: ## Re-vendor marked and DOMPurify (versions pinned in web_client/package-lock.json; needs npm)
	cd web_client && npm ci --no-audit --no-fund
	mkdir -p $(WEB_VENDOR)
	cp web_client/node_modules/marked/lib/marked.umd.js $(WEB_VENDOR)/marked.umd.js
	cp web_client/node_modules/marked/LICENSE $(WEB_VENDOR)/marked.LICENSE
	cp web_client/node_modules/dompurify/dist/purify.min.js $(WEB_VENDOR)/purify.min.js
	cp web_client/node_modules/dompurify/LICENSE $(WEB_VENDOR)/dompurify.LICENSE
	cp web_client/node_modules/dompurify/LICENSE-MPL $(WEB_VENDOR)/dompurify.LICENSE-MPL
	@echo "Vendored into $(WEB_VENDOR): commit it, so running the web client needs no Node."

.PHONY: fake-upstream
fake-upstream: install ## Run only the fake OpenAI-compatible upstream on :9100 (FAKE_MODEL_PORT)
	$(VENV)/bin/python scripts/fake_upstream.py --port $(FAKE_MODEL_PORT)

# ---- docker compose: the full stack (README "Deploy with Docker Compose") --------------

COMPOSE ?= docker compose
COMPOSE_DEV := $(COMPOSE) -f docker-compose.yml -f docker-compose.dev.yml

.PHONY: docker-up
docker-up: .env ## Build and start the full stack with docker compose; returns once every service is healthy
	$(COMPOSE) up -d --build --wait

.PHONY: docker-dev
docker-dev: .env ## The same with the development overrides (auth off, reload, debug logs, source mounted)
	$(COMPOSE_DEV) up -d --build --wait

.PHONY: docker-down
docker-down: ## Stop and remove the stack's containers (volumes, so data and keys, are kept)
	$(COMPOSE) down

# ---- LiteLLM virtual keys and the proxy under docker compose (seed 001) --------------

.PHONY: litellm_setup
litellm_setup: ## Generate LiteLLM virtual keys (stack running); WRITE=.env writes them there instead of printing
	@scripts/setup_litellm_keys.sh $(if $(WRITE),--write $(WRITE))

.PHONY: litellm_ui
litellm_ui: ## Open the LiteLLM dashboard (user admin, password LITELLM_MASTER_KEY)
	@url="$${LITELLM_URL:-http://localhost:4000}/ui"; \
	if command -v xdg-open >/dev/null; then xdg-open "$$url"; \
	elif command -v open >/dev/null; then open "$$url"; \
	else echo "Open $$url in your browser."; fi

.PHONY: litellm_logs
litellm_logs: ## Follow the LiteLLM proxy's logs
	$(COMPOSE) logs -f litellm

.PHONY: litellm_restart
litellm_restart: ## Restart the LiteLLM proxy (after editing config/litellm_config.yaml)
	$(COMPOSE) restart litellm

.PHONY: litellm_reset
litellm_reset: ## DESTRUCTIVE: delete LiteLLM's database (every key, all usage) and generate new keys; CONFIRM=yes skips the question
	@if [ "$(CONFIRM)" != yes ]; then \
		read -r -p "Delete every LiteLLM virtual key and all usage data? Type yes: " answer; \
		[ "$$answer" = yes ] || { echo "Cancelled: nothing deleted."; exit 1; }; \
	fi
	$(COMPOSE) rm --stop --force litellm postgres-litellm
	docker volume rm "$$($(COMPOSE) config --format json | python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])')_litellm_postgres_data"
	$(COMPOSE) up -d --wait litellm
	@$(MAKE) --no-print-directory litellm_setup

# ---- quality ------------------------------------------------------------------------

.PHONY: test
test: install install-litellm install-browser bench-tools ## Run every test but the Phoenix e2e ones (unit, integration, browser, reliability; nginx for the replicas test); prints the figures of those that print them
	$(VENV)/bin/pytest -m "not phoenix" -raP

.PHONY: test-e2e
test-e2e: install install-litellm install-phoenix ## Run the end-to-end tests with a real Phoenix (installs it first)
	$(VENV)/bin/pytest -m phoenix

.PHONY: test-unit
test-unit: install ## Run the unit tests only (no servers)
	$(VENV)/bin/pytest tests/unit

.PHONY: bench-tools
bench-tools: ## Install the load generator and nginx (Debian wrk, nginx-light; the bench's upstream, the replicas test's load balancer) when missing
	@command -v wrk >/dev/null && command -v nginx >/dev/null || { \
		echo "installing wrk and nginx-light from Debian's packages"; \
		apt-get install -y -q wrk nginx-light >/dev/null || { echo "error: could not install wrk/nginx-light (need root and apt)"; exit 1; }; \
		service nginx stop >/dev/null 2>&1 || true; }

.PHONY: bench
bench: install install-deployed install-litellm install-portkey bench-tools ## Benchmark the gateway beside LiteLLM, Portkey and a bare hop (< 10 min); writes docs/benchmarks.*
	$(VENV)/bin/python bench/run_bench.py

.PHONY: bench-features
bench-features: install install-deployed bench-tools ## What each gateway feature costs: gateway variants beside the bare hop, interleaved (~2 min)
	$(VENV)/bin/python bench/feature_costs.py

.PHONY: bench-quick
bench-quick: install install-deployed install-litellm install-portkey bench-tools ## A one-minute smoke run of the benchmark harness (numbers not kept)
	$(VENV)/bin/python bench/run_bench.py --quick

.PHONY: lint
lint: install ## ruff lint and format check; shellcheck on scripts/*.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck --severity=warning scripts/*.sh

.PHONY: fmt
fmt: install ## Format and auto-fix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: clean
clean: ## Remove the environments and caches (not .env)
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache web_client/node_modules test-artifacts
