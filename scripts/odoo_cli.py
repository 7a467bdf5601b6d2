"""How the project starts Odoo: one place for the command line `make run` and `make test` share."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo"))
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
OCA_REQUIREMENTS = REPO / "requirements-oca-neighbours.txt"
OCA_ADDONS = REPO / ".data" / "oca-addons"


def oca_addons():
    """The OCA modules of requirements-oca-neighbours.txt, installed (once per version of
    that file) from PyPI with --no-deps into .data/oca-addons, never into the venv:
    (their addons folder, their module names)."""
    wanted = OCA_REQUIREMENTS.read_text()
    modules = tuple(line.split("==")[0].removeprefix("odoo-addon-") for line in wanted.splitlines()
                    if line.strip() and not line.startswith("#"))
    stamp = OCA_ADDONS / ".installed"
    if not (stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(OCA_ADDONS, ignore_errors=True)
        subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--target", str(OCA_ADDONS),
                        "-r", str(OCA_REQUIREMENTS)], check=True, stderr=subprocess.DEVNULL)
        stamp.write_text(wanted)
    return OCA_ADDONS / "odoo" / "addons", modules


def addons_path(*extra):
    return ",".join(str(p) for p in (ODOO_SRC / "addons", ODOO_SRC / "odoo" / "addons", REPO, *extra))


def odoo_command(database, dbname, *args, data_dir, extra_addons=()):
    """The odoo-bin command line for ``dbname`` on ``database`` (a pgcluster.Database);
    ``extra_addons``: more addons folders (the OCA modules of ``oca_addons()``)."""
    if not (ODOO_SRC / "odoo-bin").exists():
        sys.exit(f"no Odoo 18.0 tree at {ODOO_SRC}: set ODOO_SRC (see README)")
    return [
        str(VENV_PYTHON), str(ODOO_SRC / "odoo-bin"),
        f"--addons-path={addons_path(*extra_addons)}", f"--data-dir={data_dir}",
        *database.odoo_args(), f"--database={dbname}", f"--db-filter=^{dbname}$",
        *args,
    ]
