"""The embedded cluster: idempotent, recovers after a crash, UTF-8 locale, unprivileged server."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from majlis.core.embedded import APP_ROLE, ClusterError, EmbeddedCluster, find_server_bindir


@pytest.fixture
def scratch_cluster():
    home = Path(tempfile.mkdtemp(prefix="majlis-scratch-"))
    os.chmod(home, 0o755)
    cluster = EmbeddedCluster(home, durable=False)
    yield cluster
    cluster.down()
    shutil.rmtree(home, ignore_errors=True)


def test_up_is_idempotent_and_recovers_a_stale_pid_file(scratch_cluster: EmbeddedCluster) -> None:
    scratch_cluster.up()
    scratch_cluster.up()
    assert scratch_cluster.is_running()
    pid = int((scratch_cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)  # a crash: the pid file stays behind
    for _ in range(100):
        if not scratch_cluster.is_running():
            break
        time.sleep(0.1)
    assert (scratch_cluster.data_dir / "postmaster.pid").exists()
    scratch_cluster.up()
    assert scratch_cluster.is_running()
    scratch_cluster.down()
    assert not scratch_cluster.is_running()
    scratch_cluster.down()  # stopping a stopped cluster is fine too


def test_processes_starting_together_bootstrap_one_at_a_time(cluster: EmbeddedCluster) -> None:
    # `majlis serve --workers 2` and a worker beside it all call `up()` as they start: their
    # role updates collided ("tuple concurrently updated") and failed a first request.
    def up_a_few_times(_: int) -> None:
        for _ in range(5):
            cluster.up()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(up_a_few_times, range(4)))
    assert cluster.is_running()


def test_tcp_on_request(scratch_cluster: EmbeddedCluster) -> None:
    scratch_cluster.up(tcp=True)
    url = scratch_cluster.tcp_url(APP_ROLE)
    assert url is not None and "127.0.0.1" in url
    with psycopg.connect(
        host="127.0.0.1",
        port=scratch_cluster.port,
        user=APP_ROLE,
        dbname="majlis",
        password=scratch_cluster._password(APP_ROLE),
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_server_runs_unprivileged_with_utf8_locale(cluster: EmbeddedCluster) -> None:
    with psycopg.connect(
        host=str(cluster.socket_dir), port=cluster.port, user="postgres", dbname="majlis"
    ) as conn:
        ctype = conn.execute(
            "SELECT datctype FROM pg_database WHERE datname = 'majlis'"
        ).fetchone()[0]
        assert "UTF-8" in ctype.upper() or "UTF8" in ctype.upper()
        assert conn.execute("SELECT show_trgm('محمد')").fetchone()[0] != []
        assert conn.execute("SELECT show_trgm('สมชาย')").fetchone()[0] != []
        assert "pg_stat_statements" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    owner_uid = (cluster.data_dir / "PG_VERSION").stat().st_uid
    if os.geteuid() == 0:
        assert owner_uid != 0


def test_missing_binaries_say_what_to_install(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("majlis.core.embedded.Path.is_dir", lambda self: False)
    with pytest.raises(ClusterError, match="apt-get install postgresql"):
        find_server_bindir()
