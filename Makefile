# LangOne: two entry points, each doing all of its own set-up on a fresh clone.
#   make demo   -> .venv with langone[all], then a guided tour (examples/tour.py)
#   make test   -> .venv with langone[all,test], then the test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
# Never let an extra pull a CUDA build of torch: the CPU wheel these machines carry.
PIP_FLAGS ?= --disable-pip-version-check -q
PYTEST_ARGS ?=

.PHONY: demo test bench bench-asv docs clean venv luajit fuzz gpu-check

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: re-install only when pyproject.toml changes.
$(VENV)/.installed-all: pyproject.toml | $(VENV)/bin/python
	$(PIP) install $(PIP_FLAGS) -e ".[all]"
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-all
	$(PIP) install $(PIP_FLAGS) -e ".[all,test]"
	@touch $@

venv: $(VENV)/.installed-test

demo: $(VENV)/.installed-all
	$(PY) examples/tour.py

# The standalone luajit binary for the Lua export round-trip tests (they skip without it).
luajit:
	@command -v luajit >/dev/null 2>&1 || apt-get install -y -qq luajit >/dev/null 2>&1 || \
	  (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq luajit >/dev/null 2>&1) || \
	  echo "note: luajit not installed: the standalone Lua export tests will be skipped"

test: $(VENV)/.installed-test luajit
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-all
	$(PY) -m langone.bench

bench-asv: $(VENV)/.installed-test
	cd asv_benchmarks && ../$(PY) -m asv machine --yes >/dev/null && \
		../$(PY) -m asv run --python=same --quick --show-stderr

# API reference from the Google-style docstrings, into site/.
docs: $(VENV)/.installed-all
	$(PIP) install $(PIP_FLAGS) -e ".[docs]"
	$(PY) -m pdoc langone -o site --docformat google

clean:
	rm -rf $(VENV) .pytest_cache asv_benchmarks/.asv build *.egg-info site

# Whole-kernel differential fuzzing, long: thousands of generated kernels on every backend
# against the python backend (tests/kernel_gen.py). Not part of `make test`, which runs a
# fixed 40. LANGONE_FUZZ_SEED picks another range; LANGONE_FUZZ_KNOWN=none hunts known bugs.
LANGONE_FUZZ_COUNT ?= 2000
LANGONE_FUZZ_SEED ?= 1000
fuzz: $(VENV)/.installed-test
	LANGONE_FUZZ_COUNT=$(LANGONE_FUZZ_COUNT) LANGONE_FUZZ_SEED=$(LANGONE_FUZZ_SEED) $(PY) -m pytest -q -p no:cacheprovider \
		tests/test_kernel_diff_fuzz.py

# Everything that needs a real GPU, in one run of at most ~8 minutes that prints one table:
# the GPU and Triton tests, generated kernels on the GPU against the python backend, and
# LangOne's Triton code against tutorial-style kernels and cuBLAS (scripts/gpu_check.py).
# It uses the venv where there is one, else the machine's python3 (a GPU box's own torch,
# triton and cupy), and needs no network.
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
GPU_CHECK_ARGS ?=
gpu-check:
	PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PY) scripts/gpu_check.py $(GPU_CHECK_ARGS)
