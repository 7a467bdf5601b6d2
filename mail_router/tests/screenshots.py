"""Chrome that saves the screenshots the tours ask for (mail_router/static/tests/tours):
a tour's screenshot() step logs SCREENSHOT_SIGNAL<name>, and a PNG <name>.png is written
in .data/screenshots/ (MAIL_ROUTER_SCREENSHOTS to change it). The README's are copied
from there into docs/screenshots/."""
import base64
import os
from pathlib import Path
from unittest.mock import patch

from odoo.tests.common import ChromeBrowser

SCREENSHOTS = Path(os.environ.get("MAIL_ROUTER_SCREENSHOTS") or Path(__file__).parents[2] / ".data" / "screenshots")
SCREENSHOT_SIGNAL = "mail_router screenshot: "


class ScreenshotBrowser(ChromeBrowser):
    """Chrome that saves a screenshot when the tour logs SCREENSHOT_SIGNAL<name>."""

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # pylint: disable=redefined-builtin
        message = str(self._from_remoteobject(args[0])) if args else ""
        if message.startswith(SCREENSHOT_SIGNAL):
            self._save_screenshot(message.removeprefix(SCREENSHOT_SIGNAL))
        return super()._handle_console(type, args, stackTrace, **kw)

    def _save_screenshot(self, name):
        def save(future):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(future.result(timeout=0)["data"]))
        self._websocket_send("Page.captureScreenshot", with_future=True).add_done_callback(save)


def taking_screenshots():
    """Within this, HttpCase.start_tour's Chrome saves the tours' screenshots."""
    return patch("odoo.tests.common.ChromeBrowser", ScreenshotBrowser)
