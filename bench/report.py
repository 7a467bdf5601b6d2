"""The benchmark's numbers as tables (Markdown, readable in a terminal and in README.md)."""
import statistics

DATABASES = ("stock", "mail_router")
# (key, label, format, what the ratio ours/stock means)
FETCH_METRICS = (
    ("fetch_mails_per_s", "fetch (until the last mail is on its record), mails/s", "{:.1f}", "above 1: faster"),
    ("run_mails_per_s", "whole fetch run (_fetch_mails, notifications sent), mails/s", "{:.1f}", "above 1: faster"),
    ("median_ms", "message_process, median ms/mail", "{:.1f}", "below 1: faster"),
    ("p95_ms", "message_process, p95 ms/mail", "{:.1f}", "below 1: faster"),
    ("queries_per_mail", "SQL queries/imported mail", "{:.1f}", "below 1: fewer"),
    ("total_queries_per_mail", "SQL queries/mail (whole run + queue drain)", "{:.1f}", "below 1: fewer"),
    ("e2e_mails_per_s", "end to end, mails/s", "{:.1f}", "above 1: faster"),
    ("peak_rss_mb", "peak RSS of the fetch process, MB", "{:.0f}", "below 1: less"),
)


def run_metrics(run):
    """The metrics of one fetch run (one database, one link condition)."""
    child = run["child"]
    mails = child["mails"]
    timings = sorted(child["ms_per_mail"]) or [float("nan")]
    return {
        "fetch_mails_per_s": mails / child["import_seconds"],
        "run_mails_per_s": mails / child["fetch_seconds"],
        "median_ms": statistics.median(timings),
        "p95_ms": timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))],
        "queries_per_mail": child["import_queries"] / mails,
        "total_queries_per_mail": (child["fetch_queries"] + child["drain_queries"]) / mails,
        "e2e_mails_per_s": mails / run["e2e_seconds"] if run["e2e_seconds"] else float("nan"),
        "peak_rss_mb": child["peak_rss_mb"],
    }


def summary(runs):
    """{latency: {metric: {"stock": median over runs, "mail_router": ..., "ratio": ours/stock}}}"""
    table = {}
    for latency in sorted({run["latency_ms"] for run in runs}):
        rows = table[latency] = {}
        for key, *_ in FETCH_METRICS:
            values = {name: statistics.median(run["metrics"][key] for run in runs
                                              if run["latency_ms"] == latency and run["database"] == name)
                      for name in DATABASES}
            values["ratio"] = values["mail_router"] / values["stock"] if values["stock"] else float("nan")
            rows[key] = values
    return table


def fetch_table(table, runs_per_side):
    lines = ["| link (added each way) | metric | stock | mail_router | ours/stock |",
             "|---|---|---:|---:|---:|"]
    for latency, rows in table.items():
        for key, label, fmt, meaning in FETCH_METRICS:
            row = rows[key]
            lines.append(f"| {latency} ms | {label} | {fmt.format(row['stock'])} | {fmt.format(row['mail_router'])} "
                         f"| {row['ratio']:.2f} ({meaning}) |")
    lines.append(f"\nMedians over {runs_per_side} run(s) per database and link condition.")
    return "\n".join(lines)


def runs_table(runs):
    lines = ["| # | link | database | mails | landed | emails (sink) | sent during fetch | fetch s | drain s "
             "| fetch mails/s | e2e mails/s | median ms | p95 ms | SQL/mail | peak RSS MB | load |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for number, run in enumerate(runs, 1):
        child, metrics = run["child"], run["metrics"]
        lines.append(
            f"| {number} | {run['latency_ms']} ms | {run['database']} | {child['mails']} "
            f"| {child['landing']['right']} | {child['notifications']['emails']} ({run['sink_recipients']}) "
            f"| {run['sent_during_fetch']} | {child['fetch_seconds']:.2f} | {child['drain_seconds']:.2f} "
            f"| {metrics['fetch_mails_per_s']:.1f} | {metrics['e2e_mails_per_s']:.1f} | {metrics['median_ms']:.1f} "
            f"| {metrics['p95_ms']:.1f} | {metrics['queries_per_mail']:.1f} | {metrics['peak_rss_mb']:.0f} "
            f"| {run.get('load_before', float('nan')):.1f} |")
    return "\n".join(lines)


def routing_table(routing):
    lines = ["| case | stock message_route ms | queries | mail_router decision ms | queries "
             "| mail_router message_route ms | queries |", "|---|---:|---:|---:|---:|---:|---:|"]
    for case in routing["cases"]:
        stock = routing["stock"].get(case, {}).get("message_route")
        decision = routing["mail_router"][case]["decision"]
        ours = routing["mail_router"][case]["message_route"]
        cells = [f"{stock['median_ms']:.2f} | {stock['queries']:g}" if stock else "- | -",
                 f"{decision['median_ms']:.2f} | {decision['queries']:g}",
                 f"{ours['median_ms']:.2f} | {ours['queries']:g}"]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    config = routing["mail_router"].get("config_lookup")
    if config:
        lines.append(f"\nOf mail_router's decision, building its configuration (`_mail_router_config`) takes "
                     f"{config['median_ms']:.2f} ms and {config['queries']:g} queries.")
    return "\n".join(lines)


def memory_table(memory):
    lines = ["| | stock | mail_router | ours/stock |", "|---|---:|---:|---:|"]
    rows = (("raw message, MB", "raw_mb", "{:.1f}"),
            ("peak RSS growth in message_process, MB", "growth_process_mb", "{:.0f}"),
            ("... times the message size", "growth_process_x", "{:.1f}"),
            ("peak RSS growth incl. commit + notification sent, MB", "growth_total_mb", "{:.0f}"),
            ("... times the message size", "growth_total_x", "{:.1f}"),
            ("message_process, s", "process_seconds", "{:.2f}"),
            ("commit + notification, s", "commit_seconds", "{:.2f}"),
            ("largest email the SMTP sink got, KB", "largest_email_kb", "{:.0f}"))
    for label, key, fmt in rows:
        stock, ours = memory["stock"][key], memory["mail_router"][key]
        ratio = ours / stock if stock else float("nan")
        lines.append(f"| {label} | {fmt.format(stock)} | {fmt.format(ours)} | {ratio:.2f} |")
    return "\n".join(lines)


def memory_metrics(child):
    growth_process = child["peak_after_process_mb"] - child["rss_before_mb"]
    growth_total = child["peak_after_commit_mb"] - child["rss_before_mb"]
    return {**child, "growth_process_mb": growth_process, "growth_process_x": growth_process / child["raw_mb"],
            "growth_total_mb": growth_total, "growth_total_x": growth_total / child["raw_mb"]}


def live_tables(live):
    """The tables of the parts measured (a run may measure some only: --live-parts)."""
    lines = []
    if "latency" in live or "fairness" in live:
        lines += ["| from APPEND to the reply on its PO | stock | mail_router | stock/ours |", "|---|---:|---:|---:|"]
    if latency := live.get("latency"):
        polling = latency["polling"]
        for key, label in (("median_s", "median"), ("p95_s", "p95"), ("max_s", "max")):
            lines.append(f"| push, {label} | (no push) | {latency['push'][key]:.2f} s | "
                         f"{polling['stock'][key] / latency['push'][key]:.0f} (stock polling / push) |")
        for key, label in (("median_s", "median"), ("p95_s", "p95"), ("max_s", "max")):
            stock, ours = polling["stock"][key], polling["mail_router"][key]
            lines.append(f"| polling every {latency['poll_minutes']} min, {label} | {stock:.1f} s | {ours:.1f} s "
                         f"| {stock / ours:.2f} |")
    if fairness := live.get("fairness"):
        lines.append(f"| a reply in a quiet mailbox, {FLOOD_NOTE} | {fairness['stock']['reply_s']:.1f} s "
                     f"| {fairness['mail_router']['reply_s']:.1f} s "
                     f"| {fairness['stock']['reply_s'] / fairness['mail_router']['reply_s']:.1f} |")
        lines.append(f"| the flooded mailbox drained | {fairness['stock']['flood_drained_s']:.1f} s "
                     f"| {fairness['mail_router']['flood_drained_s']:.1f} s "
                     f"| {fairness['stock']['flood_drained_s'] / fairness['mail_router']['flood_drained_s']:.2f} |")
    if drain := live.get("drain"):
        lines += ["", f"Drain: {drain['mailboxes']} mailboxes x {drain['mails']} mails, {drain['delay_ms']} ms "
                      "added each way; every fetch job triggered at once. The median of each configuration's runs "
                      "(all runs' seconds in checks).", "", *MAILBOX_HEADER, *_mailbox_rows(drain)]
    if scale := live.get("scale"):
        lines += ["", f"Scale: {scale['mailboxes']} mailboxes x {scale['mails']} mails, direct link, one Odoo "
                      "process. Processing: the share of the cron threads' time spent in routing and posting (the "
                      "routing log's durations); the rest is IMAP, the scheduler and waiting.", "",
                  *MAILBOX_HEADER, *_mailbox_rows(scale)]
    return "\n".join(lines)


MAILBOX_HEADER = ["| database | processes x cron threads | seconds | mails/s | speed-up over 1 x 1 | Odoo CPU s "
                  "| PostgreSQL CPU s | checks |", "|---|---|---:|---:|---:|---:|---:|---|"]
FLOOD_NOTE = "300 mails waiting in another (2 cron threads; stock's cron triggered at once)"


def _mailbox_rows(part):
    rows = []
    for name in ("stock", "mail_router"):
        runs = part.get(name, [])
        for run in runs:
            share = f", processing {run['processing_share']:.0%}" if "processing_share" in run else ""
            if "runs_seconds" in run:
                share += "; runs " + ", ".join(f"{seconds:.1f}" for seconds in run["runs_seconds"]) + " s"
            rows.append(f"| {name} | {run['processes']} x {run['threads']} | {run['seconds']:.1f} "
                        f"| {run['mails_per_s']:.1f} | {runs[0]['seconds'] / run['seconds']:.2f} "
                        f"| {run['odoo_cpu_s']:.1f} | {run['postgres_cpu_s']:.1f} "
                        f"| {'; '.join(run['problems']) or 'each mail once'}{share} |")
    return rows
