# modcut: `make demo` runs the main job, `make test` runs every test (Rust and Python).
# Both set up what they need first (Python packages, the native extension).
PYTHON ?= python3
PY_LIBDIR := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
export PYO3_PYTHON := $(shell command -v $(PYTHON))
# `cargo test` links libpython (pyo3 without the extension-module build); find it at run time.
export LD_LIBRARY_PATH := $(PY_LIBDIR):$(LD_LIBRARY_PATH)
DEMO_DIR ?= demo

.PHONY: all setup data develop wheel wheelhouse test test-rust test-python lint bench bench-speedup bench-blocks demo clean

all: test

# Python dependencies (torch is pinned and installed once; pip skips what is already there),
# and the numpy/scipy wheelhouse of the wheel test.
setup:
	$(PYTHON) -m pip install -q --disable-pip-version-check --root-user-action=ignore "maturin>=1.9,<2"
	$(PYTHON) -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-build-isolation -e ".[dev]"
	$(MAKE) wheelhouse

# The wheel: abi3 (CPython >= 3.10), linked by zig against glibc 2.17 so that it carries the
# portable manylinux2014 (manylinux_2_17) tag; maturin checks the tag's rules while building and
# auditwheel must agree. Plus the sdist. Rebuilt only when a source file is newer than the stamp.
WHEEL_TAG := manylinux_2_17_$(shell uname -m)
# maturin's script next to $(PYTHON), else on PATH (`python -m maturin` needs the script beside python)
MATURIN ?= $(or $(wildcard $(dir $(PYO3_PYTHON))maturin),$(shell command -v maturin),$(PYTHON) -m maturin)
WHEEL_SOURCES := Cargo.toml Cargo.lock pyproject.toml README.md \
	$(shell find rust python -name '*.rs' -o -name '*.py' -o -name '*.pyi' -o -name py.typed)
wheel: dist/.wheel-stamp

dist/.wheel-stamp: $(WHEEL_SOURCES)
	rm -f dist/modcut-*.whl dist/modcut-*.tar.gz dist/.wheel-stamp
	$(MATURIN) build --release --zig --compatibility manylinux2014 --target-dir target/wheel --out dist
	$(MATURIN) sdist --out dist
	$(PYTHON) -m auditwheel show dist/modcut-*.whl | tee dist/auditwheel.txt
	grep -q '"$(WHEEL_TAG)"' dist/auditwheel.txt || { echo "auditwheel disagrees: expected $(WHEEL_TAG)" >&2; exit 1; }
	touch $@

# numpy and scipy wheels (the versions installed here) for tests/test_wheel.py's offline install.
PY_TAG := $(shell $(PYTHON) -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
wheelhouse: .whl/.stamp-$(PY_TAG)

.whl/.stamp-$(PY_TAG):
	$(PYTHON) -m pip download -q --disable-pip-version-check --only-binary=:all: -d .whl \
		"numpy==$$($(PYTHON) -c 'import numpy; print(numpy.__version__)')" \
		"scipy==$$($(PYTHON) -c 'import scipy; print(scipy.__version__)')"
	touch $@

# Rebuild the native extension in place after changing Rust code.
develop:
	$(PYTHON) -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-build-isolation --no-deps -e .

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo bench --no-run
	$(PYTHON) -m ruff check python tests benches
	$(PYTHON) -m ruff format --check python tests benches
	$(PYTHON) -m mypy
	PYTHONPATH=python $(PYTHON) -c "from importlinter.cli import lint_imports_command; lint_imports_command()"  # import-linter (lint-imports): the contracts in pyproject.toml

test-rust:
	cargo test --release

test-python:
	$(PYTHON) -m pytest tests

test: setup lint test-rust wheel test-python

bench: setup
	mkdir -p .benchmarks
	$(PYTHON) -m pytest benches --benchmark-only --benchmark-json=.benchmarks/latest.json --benchmark-columns=min,median,mean,stddev,rounds
	$(PYTHON) benches/summarize.py .benchmarks/latest.json

# transformer MLP blocks at real shapes (GPT-2 small, Pythia-1B, LLaMA-7B): cost per null sample,
# peak memory, Dask workers per hour (a few minutes; about 9 GiB for the LLaMA block)
# issue 22's side-by-side (both pipelines in one session, on the four graphs of the profile)
bench-speedup: setup
	mkdir -p .benchmarks
	$(PYTHON) -m pytest benches/test_bench_speedup.py --benchmark-only --benchmark-json=.benchmarks/speedup.json --benchmark-columns=min,median,rounds
	$(PYTHON) benches/summarize.py .benchmarks/speedup.json

bench-blocks: setup
	$(PYTHON) benches/blocks_scale.py --json .benchmarks/blocks_scale.json

# Fashion-MNIST for the demo: Debian's package where we can install it; elsewhere modcut looks in
# $$MODCUT_DATA / ~/.cache/modcut/data and then tries torchvision's download.
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
data:
	@if [ ! -f $(FASHION) ] && [ -z "$$MODCUT_DATA" ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	fi

demo: setup data
	$(PYTHON) -m modcut demo --out $(DEMO_DIR)

clean:
	cargo clean
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis python/modcut/*.so
