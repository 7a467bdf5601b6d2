"""pytest entry point for the parts of mail_router that run without Odoo.

The pure packages (``mail_router/routing``, ``mail_router/fetching``) use only
relative imports, so they import both as ``odoo.addons.mail_router.routing``
inside Odoo and as top-level ``routing`` here, without importing the addon's
``__init__`` (which needs Odoo).
"""
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
for path in (REPO / "mail_router", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def pytest_collect_directory(path, parent):
    """Collect the addon's folders as plain directories, not packages: pytest would
    import ``mail_router/__init__.py``, which needs Odoo."""
    addon = REPO / "mail_router"
    if path == addon or addon in path.parents:
        return pytest.Dir.from_parent(parent, path=path)
    return None
