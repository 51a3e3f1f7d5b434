"""gunicorn settings, each from an environment variable (docs/DEPLOYING.md lists them).

An invalid value stops the start with one clear line. Migrations run once, in the master,
before any worker forks; every log line, gunicorn's included, is JSON on stdout.
"""

import gc
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from leads.config import ConfigError, ServerSettings, Settings  # noqa: E402
from leads.web.request_log import (  # noqa: E402
    ServiceGunicornLogger,
    logging_config,
    skip_unused_record_fields,
)

try:
    _server = ServerSettings.from_environment()
    Settings.from_environment()  # the service's own settings, checked before anything starts
except ConfigError as error:
    sys.exit(f"leads: invalid configuration: {error}")

bind = f"{_server.host}:{_server.port}"
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
timeout = _server.timeout
# On SIGTERM workers stop accepting, finish the requests in flight, then exit.
graceful_timeout = _server.graceful_timeout
keepalive = _server.keepalive
loglevel = _server.log_level
# The access log is the service's own JSON line per request (leads/web/request_log.py), on
# stdout like every other line; gunicorn's plain-text access line would repeat it.
accesslog = None
logger_class = ServiceGunicornLogger
errorlog = "-"
logconfig_dict = logging_config(_server.log_level)
skip_unused_record_fields()
# No gunicornc control socket: its default path ($HOME/.gunicorn) is one per user, shared by
# every instance, and the container's user has no home.
control_socket_disable = True
# Each worker touches a file for its heartbeat on every turn of its event loop, that is on
# every request; on a disk (or a container's overlay) file system that is an inode update
# that can stall the worker. gunicorn's documentation advises a tmpfs.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# prometheus-client's multiprocess mode: each worker writes its samples to files in this
# directory and /metrics adds them up. It must be set before prometheus_client is imported.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="leads-metrics-")


def on_starting(server):
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    # Samples of a previous run would be added to this one's.
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    # Once, in the master, before workers fork: the workers then only read DATABASE_URL.
    from leads.startup import prepare_database

    prepare_database(server.log)


def post_worker_init(worker):
    # What is alive now (modules, the app, its schemas) lives as long as the worker: frozen
    # out of the collector's sight, a full collection no longer walks it, and a large import,
    # which allocates enough to trigger full collections, no longer pays for walking it.
    gc.freeze()


def child_exit(server, worker):
    # A dead worker's gauges (connections in use) no longer count.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
