"""Every migration says what it locks on tables that may already be large.

A migration that alters an existing table (new columns, rewritten columns, a new
index, a changed constraint) can stall a live system for minutes; each one must
say so in its `LOCKS` constant, with the concurrent path, so whoever upgrades a
big database reads it before they run it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import majlis

VERSIONS = Path(majlis.__file__).parent / "migrations" / "versions"
CREATED = re.compile(r"(?:create_table|_table)\(\s*\"(\w+)\"")
TOUCHES_EXISTING = re.compile(
    r"op\.add_column\(\s*\"(\w+)\"|op\.alter_column\(\s*\"(\w+)\""
    r"|ALTER TABLE (\w+)|op\.create_index\([^,]+,\s*\"(\w+)\""
    r"|op\.create_foreign_key\([^,]+,\s*\"(\w+)\"|op\.drop_constraint\([^,]+,\s*\"(\w+)\""
)
MODULES = sorted(path.stem for path in VERSIONS.glob("[0-9]*.py"))


def _existing_tables_touched(source: str) -> set[str]:
    created = set(CREATED.findall(source))
    touched = {name for match in TOUCHES_EXISTING.findall(source) for name in match if name}
    return touched - created


@pytest.mark.parametrize("module", MODULES)
def test_each_migration_declares_its_locks(module: str) -> None:
    spec = importlib.util.spec_from_file_location(module, VERSIONS / f"{module}.py")
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    locks = getattr(migration, "LOCKS", "")
    assert isinstance(locks, str) and len(locks) > 20, f"{module} has no LOCKS statement"
    touched = _existing_tables_touched((VERSIONS / f"{module}.py").read_text())
    if touched:
        assert not locks.lower().startswith("none"), (
            f"{module} alters existing tables {sorted(touched)} but LOCKS says none"
        )
        assert all(table in locks for table in touched), (
            f"{module}: LOCKS must name each existing table it alters: {sorted(touched)}"
        )
