"""Every real-world mail of the shared corpus (broken headers, bounces, odd charsets,
Outlook attachments) goes through the whole pipeline: posted, or kept, never lost."""
import os
from pathlib import Path

from odoo.tests import tagged

from .common import MailRouterCase

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("MAIL_ROUTER_CORPUS") or REPO.parent / "shared" / "corpus")
# What a mail may end as: routed somewhere, or one of the outcomes that keep or explain it.
FINAL_STAGES = {"in_reply_to", "references", "alias", "record_address", "catchall_default",
                "quarantine", "bounce", "loop", "auto_reply"}


@tagged("post_install", "-at_install", "mail_router")
class TestCorpus(MailRouterCase):

    def test_every_corpus_mail_is_posted_or_kept(self):
        files = sorted((CORPUS / "mikel-mail").rglob("*.eml"))
        self.assertGreater(len(files), 50, f"the shared corpus is missing at {CORPUS} (MAIL_ROUTER_CORPUS)")
        Log = self.env["mail.router.log"]
        for path in files:
            # each mail alone: the corpus reuses Message-IDs, which the ledger would skip
            with self.subTest(mail=path.name), self.env.cr.savepoint() as alone:
                raw = path.read_bytes()
                before = Log.search([], limit=1).id or 0
                with self.mock_mail_gateway():
                    self.env["mail.thread"].sudo().message_process("mail.router.test.ticket", raw)
                log = Log.search([("id", ">", before)])
                self.assertEqual(len(log), 1, "one routing log entry per mail")
                self.assertIn(log.stage, FINAL_STAGES)
                self.assertFalse(log.error, "no corpus mail makes the processing fail")
                if log.stage == "quarantine":
                    kept = self.env["mail.router.quarantine"].search([("message_id", "=", log.message_id)], limit=1)
                    self.assertEqual(kept.raw_bytes(), raw)
                elif log.stage == "catchall_default":
                    self.assertTrue(log.mail_message_id, "a new record holds the mail")
                alone.rollback()
