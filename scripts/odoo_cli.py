"""How the project starts Odoo: one place for the command line `make run` and `make test` share."""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo"))
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def addons_path(*extra):
    return ",".join(str(p) for p in (ODOO_SRC / "addons", ODOO_SRC / "odoo" / "addons", REPO, *extra))


def odoo_command(database, dbname, *args, data_dir, extra_addons=()):
    """The odoo-bin command line for ``dbname`` on ``database`` (a pgcluster.Database);
    ``extra_addons``: more addons folders (the OCA neighbours of the compat suite)."""
    if not (ODOO_SRC / "odoo-bin").exists():
        sys.exit(f"no Odoo 18.0 tree at {ODOO_SRC}: set ODOO_SRC (see README)")
    return [
        str(VENV_PYTHON), str(ODOO_SRC / "odoo-bin"),
        f"--addons-path={addons_path(*extra_addons)}", f"--data-dir={data_dir}",
        *database.odoo_args(), f"--database={dbname}", f"--db-filter=^{dbname}$",
        *args,
    ]
