# What the layer Makefiles share: wheels for the Lambda target (python3.13 on arm64) installed from the registry,
# less what the runtime already has, then compiled to bytecode for the runtime's Python (bytecode.sh).
# Overridable so that tests/bench/bench_coldstart.py can build a twin of the layers for this machine and import it.
LAMBDA_PYTHON ?= 3.13
LAMBDA_PLATFORM ?= manylinux2014_aarch64
PIP ?= pip
# Further pip install options of one layer (the credentials layer sets --no-deps).
LAYER_PIP_OPTIONS ?=
# Top-level packages of a layer that ship their sources beside their bytecode (sourceless.sh); all others ship
# bytecode alone.
KEEP_SOURCES ?=
LAYERS_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
# The Lambda python3.13 runtime provides boto3 and what it depends on. A copy in a layer would come before the
# runtime's on sys.path: aws-xray-sdk's requirement on botocore alone brought a second, newer botocore (24 MiB,
# outside boto3's pin) into every function.
RUNTIME_PROVIDED := boto3 botocore s3transfer jmespath urllib3 dateutil six
RUNTIME_DISTRIBUTIONS := boto3 botocore s3transfer jmespath urllib3 python_dateutil six
# Console scripts and man pages of the wheels: nothing on Lambda runs them.
UNUSED := bin share

# $(1): the layer's python/ folder. Installs requirements.txt there, with dependencies, without compiling.
define install_requirements
	mkdir -p "$(1)"
	$(PIP) install --quiet --disable-pip-version-check --no-compile \
		--platform $(LAMBDA_PLATFORM) --implementation cp --python-version $(LAMBDA_PYTHON) --only-binary=:all: \
		$(LAYER_PIP_OPTIONS) --target "$(1)" -r requirements.txt
	cd "$(1)" && rm -rf $(RUNTIME_PROVIDED) $(addsuffix .py,$(RUNTIME_PROVIDED)) \
		$(addsuffix -*.dist-info,$(RUNTIME_DISTRIBUTIONS)) $(UNUSED)
endef

# $(1): the layer's python/ folder, complete. Fails the build if it would shadow a module of the runtime; compiles it,
# and drops the sources of what is not in KEEP_SOURCES.
define finish_layer
	for name in $(RUNTIME_PROVIDED); do \
		if [ -e "$(1)/$$name" ] || [ -e "$(1)/$$name.py" ]; then \
			echo "$(1) holds $$name, which the Lambda runtime provides: it would shadow the runtime's copy" >&2; \
			exit 1; \
		fi; \
	done
	sh "$(LAYERS_DIR)bytecode.sh" "$(1)"
	sh "$(LAYERS_DIR)sourceless.sh" "$(1)" $(KEEP_SOURCES)
endef
