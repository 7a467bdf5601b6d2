"""pytest entry point for the parts of mail_router that run without Odoo.

The pure packages (``mail_router/routing``, ``mail_router/fetching``) use only
relative imports, so they import both as ``odoo.addons.mail_router.routing``
inside Odoo and as top-level ``routing`` here, without importing the addon's
``__init__`` (which needs Odoo).
"""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent
for path in (REPO / "mail_router", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
