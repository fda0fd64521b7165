# fleetpatch.patching — the two commands that matter:
#   make demo   bring the lab up and run the ring rollout twice: a broken wave stopped by the test
#               ring's gate, then a fixed wave through every ring, with reports (the main job)
#   make test   every check: lint, changelog, sanity, unit, lab integration, Molecule, build
# Both install what they need (Debian packages, a Python venv in .venv) and need root for the lab.

VENV      ?= .venv
PYTHON    ?= python3
LAB       := tests/lab/lab
BUILD     := .build
COLL_PATH := $(CURDIR)/$(BUILD)/collections
SANITY    := $(BUILD)/sanity/ansible_collections/fleetpatch/patching

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Our own checkout first, then the collections the `ansible` package ships (site-packages).
export ANSIBLE_COLLECTIONS_PATH := $(COLL_PATH)
export ANSIBLE_INVENTORY := $(CURDIR)/tests/lab/.state/inventory.yml
export ANSIBLE_HOST_KEY_CHECKING := True
export ANSIBLE_FORCE_COLOR := 0

.PHONY: demo test bench bench-callback bench-fleet deps system-deps venv lint yamllint ansible-lint changelog-check sanity unit integration molecule \
        collection-build lab-up lab-down clean ee-collection ee-check ee-build

demo: deps lab-up
	tests/lab/demo

test: deps lint changelog-check sanity unit ee-check lab-up integration molecule collection-build
	@echo "make test: every step passed"

deps: system-deps venv $(COLL_PATH)/ansible_collections/fleetpatch/patching

system-deps:
	tests/lab/install-deps

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

# The checkout is the collection root; expose it where Ansible looks for fleetpatch.patching.
$(COLL_PATH)/ansible_collections/fleetpatch/patching:
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

lint: yamllint ansible-lint

yamllint:
	yamllint -s .

# ansible-lint runs offline (.ansible-lint) and finds this collection through COLL_PATH, so it
# installs nothing. Its Ansible home (ANSIBLE_HOME: where it would install collections and roles)
# and its cache stay under .build, never the user's ~/.ansible, where an installed copy would shadow
# the checkout for every later ansible run; the last line fails if it installed anything anyway.
LINT_HOME := $(CURDIR)/$(BUILD)/ansible-lint
ansible-lint: venv $(COLL_PATH)/ansible_collections/fleetpatch/patching
	rm -rf $(LINT_HOME)
	ANSIBLE_HOME=$(LINT_HOME)/ansible XDG_CACHE_HOME=$(LINT_HOME)/cache ansible-lint
	@installed=$$(find $(LINT_HOME)/ansible/collections $(LINT_HOME)/ansible/roles -mindepth 1 -maxdepth 3 2>/dev/null); \
	if [ -n "$$installed" ]; then echo "ansible-lint installed content (is offline: true in .ansible-lint?):"; \
	    echo "$$installed"; exit 1; fi

# The release notes as a release would render them (antsibull-changelog, on a temporary copy): no
# literal C()/M()/I() markup, no module or plugin listed twice, no link to another repository.
changelog-check: venv
	python tests/tools/changelog_check.py

# ansible-test wants the collection under ansible_collections/<ns>/<name> in a git tree of its
# own, so sanity runs on a copy. pslint is skipped: PowerShell is not packaged for Debian.
sanity: venv
	rm -rf $(BUILD)/sanity && mkdir -p $(SANITY)
	tar -c --exclude=./$(VENV) --exclude=./$(BUILD) --exclude=./.git --exclude=./tests/lab/.state \
	    --exclude=__pycache__ --exclude=.pytest_cache . | tar -x -C $(SANITY)
	cd $(SANITY) && git init -q && git add -A
	test -x $(BUILD)/sanity-venv/bin/ansible-test || \
	    ($(PYTHON) -m venv $(BUILD)/sanity-venv && \
	     $(BUILD)/sanity-venv/bin/pip install -q --disable-pip-version-check $$(grep '^ansible-core==' requirements.txt))
	mkdir -p $(HOME)/.ansible/test/cache
	for v in 24_2 25_1 25_3; do cp tests/tools/ansible_test_get_pip.py $(HOME)/.ansible/test/cache/get_pip_$$v.py; done
	cd $(SANITY) && PATH=$(CURDIR)/$(BUILD)/sanity-venv/bin:$$PATH \
	    ansible-test sanity --requirements --python 3.11 --skip-test pslint --color no

# The history store's PostgreSQL tests use a local server, started here unless
# FLEETPATCH_TEST_POSTGRES_URL already names one, and stopped again afterwards, whatever the tests'
# result, when this target started it (tests/tools/stop-postgres).
unit: venv
	if [ -n "$${FLEETPATCH_TEST_POSTGRES_URL:-}" ]; then exec python -m pytest -q tests/unit; fi; \
	pg_env=$$(tests/tools/start-postgres) && eval "$$pg_env" && test -n "$$FLEETPATCH_TEST_POSTGRES_URL" || \
	    { tests/tools/stop-postgres; exit 1; }; \
	rc=0; python -m pytest -q tests/unit || rc=$$?; \
	if [ "$$FLEETPATCH_TEST_POSTGRES_STARTED" = 1 ]; then tests/tools/stop-postgres || rc=1; fi; \
	exit $$rc

lab-up: system-deps
	$(LAB) up

lab-down:
	$(LAB) down

integration: venv
	cd tests/integration && python -m pytest -q -p no:cacheprovider --durations=40 .

# Molecule logs "CRITICAL 'extensions/molecule/default/molecule.yml' glob failed" first: there is no
# `default` scenario (each scenario resets and stages the lab hosts itself), and it goes on to run them all.
molecule: venv
	molecule test --all

# The built tarball must install with ansible-galaxy; dependencies come from the `ansible`
# package already installed (no Galaxy server is reachable here).
collection-build: venv
	rm -rf $(BUILD)/dist $(BUILD)/installed && mkdir -p $(BUILD)/dist
	ansible-galaxy collection build --force --output-path $(BUILD)/dist .
	ansible-galaxy collection install --offline --force -p $(BUILD)/installed $(BUILD)/dist/fleetpatch-patching-*.tar.gz
	test -f $(BUILD)/installed/ansible_collections/fleetpatch/patching/MANIFEST.json

# The execution environment (docs/awx.md): ansible-builder writes the build context into .build/ee
# from this checkout's collection tarball, and check_context.py checks it (Containerfile, base image
# as a build argument, the tarball, our requirements merged by the builder stage's own introspection
# over the collection and its dependencies) and the AWX configuration playbook's syntax. No image is
# built: that needs a registry (`make ee-build`, where one is reachable).
EE_DEF       := execution-environment/execution-environment.yml
EE_TARBALL   := $(BUILD)/ee-collection/fleetpatch-patching.tar.gz
EE_BASE_IMAGE ?=
ee-collection: venv
	rm -rf $(BUILD)/ee-collection && mkdir -p $(BUILD)/ee-collection
	ansible-galaxy collection build --force --output-path $(BUILD)/ee-collection .
	mv $(BUILD)/ee-collection/fleetpatch-patching-*.tar.gz $(EE_TARBALL)

ee-check: ee-collection $(COLL_PATH)/ansible_collections/fleetpatch/patching
	rm -rf $(BUILD)/ee $(BUILD)/ee-introspect && mkdir -p $(BUILD)/ee-introspect/ansible_collections
	ansible-builder create -f $(EE_DEF) -c $(BUILD)/ee --output-filename Containerfile
	ansible-galaxy collection install --offline --no-deps --force -p $(BUILD)/ee-introspect $(EE_TARBALL)
	for dep in ansible/windows community/windows; do mkdir -p $(BUILD)/ee-introspect/ansible_collections/$${dep%/*} && \
	    ln -sfn $$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections/$$dep \
	        $(BUILD)/ee-introspect/ansible_collections/$$dep; done
	python execution-environment/check_context.py $(BUILD)/ee $(BUILD)/ee-introspect
	ansible-playbook --syntax-check -i localhost, playbooks/awx_configure.yml

# Builds the image (podman or docker, a registry for the base image and Galaxy for the dependencies):
#   make ee-build EE_BASE_IMAGE=registry.example.com/ee-minimal:latest
ee-build: ee-collection
	ansible-builder build -f $(EE_DEF) -c $(BUILD)/ee -t fleetpatch-ee:latest \
	    $(if $(EE_BASE_IMAGE),--build-arg EE_BASE_IMAGE=$(EE_BASE_IMAGE))

# Not part of `make test`: figures go to bench/results/ and, by hand, to docs/benchmarks.md.
bench: deps lab-up
	python bench/patch_facts_bench.py

# The compliance callback's cost while a run goes on, against the default callback alone, ARA
# (offline, SQLite; installed into .venv for this bench only) and ansible-core's junit callback, on
# 500 and 2,000 localhost aliases (no lab). Not part of `make test`; see docs/benchmarks.md.
bench-callback: deps
	$(VENV)/bin/pip install -q --disable-pip-version-check 'ara[server]==1.8.0'
	python bench/callback_overhead_bench.py --hook-times

# One controller against 25, 50 and 100 real lab hosts (tests/lab/lab up --hosts N, made and removed
# by the bench), in phases (--phases): assess (patch_facts against the do-it-yourself tasks), matrix
# (forks 10/50, pipelining off, ControlPersist off, the compliance callback, on the assessment at 50),
# rollout (a ring rollout with reboots at 25, 50 and 100 hosts, with and without the compliance
# callback) and rollout-matrix (forks 10/50, pipelining off, ControlPersist off, on the rollout at 50).
# Each rollout takes fresh hosts; the bench remakes the fleet when it runs out. It takes the lab's
# lock per measured step, not for the whole run (hours on two cores; one phase at a time:
# make bench-fleet FLEET_BENCH_ARGS="--phases rollout-matrix"). Not part of `make test`; see
# docs/benchmarks.md.
bench-fleet: deps lab-up
	python bench/fleet_bench.py $(FLEET_BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(VENV)
