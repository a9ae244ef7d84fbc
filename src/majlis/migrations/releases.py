"""The schema heads each published release left behind.

An upgrade from every release here, with that release's demo data in it, is part
of the test suite (`tests/core/test_upgrade_with_data.py`), so a migration that
mangles existing rows fails CI rather than a customer's upgrade.
"""

from __future__ import annotations

RELEASES: dict[str, tuple[str, ...]] = {
    "0.1": ("0003_relationships", "0004_search", "0005_receivables", "0007_portal"),
}
