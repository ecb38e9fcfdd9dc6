# The two commands of the README: `make run` (server on the embedded default) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: run serve test venv lint bench chromium sdk clickhouse-check

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed

# uvicorn rather than runserver: the live view's WebSocket needs an ASGI server; --reload as runserver's.
run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/uvicorn analytics_project.asgi:application --reload --no-access-log --host $(firstword $(subst :, ,$(HOST))) --port $(lastword $(subst :, ,$(HOST)))

# Production without Docker: DEBUG off (so SECRET_KEY must be set), migrations, then the static files
# collected before gunicorn starts. With DEBUG off WhiteNoise serves them from its manifest, and
# without one every admin page is a 500. Set DATABASE_URL, REDIS_URL, ALLOWED_HOSTS as in the README.
serve: venv
	DEBUG=false $(BIN)/python manage.py migrate --noinput
	DEBUG=false $(BIN)/python manage.py collectstatic --noinput
	DEBUG=false exec $(BIN)/gunicorn -c gunicorn.conf.py analytics_project.wsgi

test: venv chromium sdk
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The JavaScript SDKs the suite drives, at the versions sdk_tests/package-lock.json pins. Without npm,
# one line, and pytest skips those tests (under CI=true they fail instead).
# Umami publishes its tracker only inside the whole application's package (`umami` on npm), whose
# dependencies (Next.js, Prisma, ...) the suite has no use for: its tarball is fetched alone, checked
# against the integrity pinned here, and only the tracker's source is kept.
SDK_INSTALLED := sdk_tests/node_modules/.package-lock.json
UMAMI_PACKAGE := umami@2.10.0
UMAMI_INTEGRITY := sha512-+lmrnV0751R6U2rkIgVAlE1nWI7yZawlMlJDguW9tlFacCKhnGeCyc7tCMIhNNYIiGIQy4DEX5IzJhm4b3+dPA==
UMAMI_TRACKER := sdk_tests/node_modules/.umami-tracker/index.js
$(SDK_INSTALLED): sdk_tests/package-lock.json Makefile
	@if command -v npm >/dev/null; then \
		npm ci --prefix sdk_tests --no-audit --no-fund --ignore-scripts --loglevel=error \
		&& mkdir -p $(dir $(UMAMI_TRACKER)) \
		&& npm pack $(UMAMI_PACKAGE) --pack-destination $(dir $(UMAMI_TRACKER)) --silent --loglevel=error >/dev/null \
		&& tarball=$$(ls $(dir $(UMAMI_TRACKER))umami-*.tgz) \
		&& test "sha512-$$(openssl dgst -sha512 -binary "$$tarball" | base64 -w0)" = "$(UMAMI_INTEGRITY)" \
		&& tar -xzOf "$$tarball" package/src/tracker/index.js > $(UMAMI_TRACKER) && rm "$$tarball" \
		&& touch $@; \
	else \
		echo "No npm (Node 20): pytest will skip the JavaScript SDK tests (fail them under CI)"; \
	fi
sdk: $(SDK_INSTALLED)

# The browser tests drive a system Chromium (Playwright's own download needs the internet). Silent when
# analytics_project/testing.py finds one; as root with apt it installs Debian's, as .ci/run does;
# otherwise one line, and pytest skips those tests (under CI=true they fail instead).
FIND_CHROMIUM := $(BIN)/python -c 'import sys; from analytics_project.testing import find_chromium; sys.exit(find_chromium() is None)'
chromium: venv
	@$(FIND_CHROMIUM) && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
			|| echo "Could not install chromium with apt-get: pytest will skip the browser tests (fail them under CI)"; \
	else \
		echo "No Chromium (chromium, chromium-browser or google-chrome on PATH, or CHROMIUM_PATH) and not root with apt-get to install it: pytest will skip the browser tests (fail them under CI)"; \
	fi

DROP_CLICKHOUSE_DATABASE := $(BIN)/python -c 'import sys; from clickhouse_store import client, testing; testing.drop_database(client.connect(sys.argv[1]))'
# A fresh ClickHouse database reaches the latest schema, and --check says so; then it is dropped.
clickhouse-check: venv
	$(DROP_CLICKHOUSE_DATABASE) "$(CLICKHOUSE_CHECK_URL)"
	CLICKHOUSE_URL="$(CLICKHOUSE_CHECK_URL)" $(BIN)/python manage.py clickhouse_migrate
	CLICKHOUSE_URL="$(CLICKHOUSE_CHECK_URL)" $(BIN)/python manage.py clickhouse_migrate --check
	$(DROP_CLICKHOUSE_DATABASE) "$(CLICKHOUSE_CHECK_URL)"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
