"""A backup restores into a fresh cluster with the same rows and checksums in every table."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from majlis.core.backup import backup, restore, table_fingerprints
from majlis.core.embedded import OWNER_ROLE, ClusterError, EmbeddedCluster


@pytest.fixture
def fresh_cluster():
    home = Path(tempfile.mkdtemp(prefix="majlis-restore-"))
    os.chmod(home, 0o755)
    cluster = EmbeddedCluster(home, durable=False)
    cluster.up()
    yield cluster
    cluster.down()
    shutil.rmtree(home, ignore_errors=True)


def test_backup_restore_round_trip(cluster, admin_engine, owner, fresh_cluster, tmp_path) -> None:
    owner.post("/api/v1/customers", json={"name": "محمد المنصوري", "trn": "100777888999000"})
    archive = tmp_path / "majlis.dump"
    source = backup(admin_engine, cluster.url(OWNER_ROLE), archive)
    assert source["customers"].rows >= 1 and archive.stat().st_size > 0

    target_url = fresh_cluster.url(OWNER_ROLE)
    target = create_engine(target_url)
    try:
        assert restore(target, target_url, archive) == []
        with target.connect() as conn:
            restored = table_fingerprints(conn)
            name = conn.execute(
                text("SELECT name FROM customers WHERE trn = '100777888999000'")
            ).scalar_one()
        assert restored == source
        assert name == "محمد المنصوري"
        with pytest.raises(ClusterError, match="not empty"):
            restore(target, target_url, archive)
    finally:
        target.dispose()


def test_checksum_changes_when_a_row_changes(admin_engine, owner) -> None:
    customer = owner.post("/api/v1/customers", json={"name": "Checksum"}).json()
    with admin_engine.connect() as conn:
        before = table_fingerprints(conn)["customers"]
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE customers SET notes = 'x' WHERE id = :id"), {"id": customer["id"]}
        )
    with admin_engine.connect() as conn:
        after = table_fingerprints(conn)["customers"]
    assert before.rows == after.rows and before.checksum != after.checksum
