# spate — the two commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
ENV := tests/env/env.sh

.PHONY: help env-up env-down env-status images build lint fmt test test-unit demo bench crds monitoring clean-env

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

env-up: ## start (or reuse) the local Kafka, QuestDB, Kubernetes (control plane and node) and Prometheus
	@$(ENV) up

env-down: ## stop the local environment, leaving no process behind
	@$(ENV) down

env-status: ## show whether the local environment is up
	@$(ENV) status

images: env-up ## build the spate-consumer and spate-operator images (no container engine) and import them into the local node
	@tests/env/images/build.sh

build: ## build every crate and binary
	$(CARGO) build --workspace --all-targets --locked

fmt: ## format the code
	$(CARGO) fmt --all

lint: ## formatting and clippy, warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

test-unit: ## unit tests only (no servers)
	$(CARGO) test --workspace --lib --bins --locked

test: lint env-up images ## everything: lint, the environment, the images, unit, integration and end-to-end tests
	$(CARGO) test --workspace --locked --no-fail-fast -- --test-threads=2

demo: env-up images ## the autoscaling demo: a spike of trades, the operator scaling workers then pods, a summary and a plot
	$(CARGO) build --release --locked -p spate-tests --bin spate-demo
	$${CARGO_TARGET_DIR:-target}/release/spate-demo --out $${CARGO_TARGET_DIR:-target}/demo $(DEMO_ARGS)

bench: ## benchmarks (figures in BENCHMARKS.md)
	$(CARGO) bench --workspace

crds: ## regenerate crds/ from the Rust types
	$(CARGO) run --locked -p spate-operator --bin crdgen > crds/ingestionpipeline.yaml

monitoring: ## regenerate manifests/monitoring/prometheusrule.yaml from manifests/monitoring/spate.rules.yaml
	@{ printf '%s\n' '# Generated from spate.rules.yaml by `make monitoring`; do not edit.' \
	  'apiVersion: monitoring.coreos.com/v1' 'kind: PrometheusRule' 'metadata:' '  name: spate' \
	  '  labels: {app.kubernetes.io/name: spate, app.kubernetes.io/part-of: spate}' 'spec:'; \
	  grep -v '^#' manifests/monitoring/spate.rules.yaml | sed 's/^\(.\)/  \1/'; } > manifests/monitoring/prometheusrule.yaml
