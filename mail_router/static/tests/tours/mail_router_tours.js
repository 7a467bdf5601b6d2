/** @odoo-module **/
// The operator screens in a real browser; test_mail_router/tests/test_operator_browser.py
// sets up the data and saves a screenshot at each screenshot() step.
import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

/** A step that asks the test for a screenshot named `name`, then waits for Chrome to take it. */
function screenshot(name, trigger) {
    return {
        content: `screenshot ${name}`,
        trigger,
        async run() {
            this.anchor.scrollIntoView({ block: "center" });
            console.log(`mail_router screenshot: ${name}`);
            await new Promise((resolve) => setTimeout(resolve, 700));
        },
    };
}

const PASTED_MAIL = [
    "From: Ann Vendor <ann@vendor.example>",
    "To: tickets@mail-router-tour.example",
    "Subject: Printer on fire",
    "Message-ID: <tour-simulated@vendor.example>",
    "",
    "Hello, our printer is on fire.",
].join("\n");

tours.add("mail_router_simulator", {
    steps: () => [
        {
            content: "paste a mail",
            trigger: ".o_field_widget[name=raw_message] textarea",
            run: (helpers) => helpers.edit(PASTED_MAIL),
        },
        { content: "simulate", trigger: ".modal button[name=action_simulate]", run: "click" },
        {
            content: "the alias decides",
            trigger: ".o_field_widget[name=stage]:contains(Alias)",
        },
        { content: "the reason names it", trigger: ".o_field_widget[name=reason]:contains(alias tickets)" },
        { content: "the trace shows every stage", trigger: ".o_field_widget[name=step_ids] .o_data_row:contains(not reached)" },
        screenshot("simulator", ".o_field_widget[name=step_ids] .o_data_row:contains(Decided)"),
    ],
});

tours.add("mail_router_quarantine", {
    steps: () => [
        { content: "open the waiting mail", trigger: ".o_data_row:contains(Lost invoice) td[name=subject]", run: "click" },
        { content: "its reason", trigger: ".o_field_widget[name=reason]:contains(no thread or alias matched)" },
        { content: "its text", trigger: ".o_field_widget[name=preview_body]:contains(Please find our invoice)" },
        screenshot("quarantine_preview", ".o_field_widget[name=preview_headers]:contains(Subject: Lost invoice)"),
        { content: "route it", trigger: "button[name=action_route_to]", run: "click" },
        {
            content: "to a ticket",
            trigger: ".modal .o_field_widget[name=target] select",
            run: "select mail.router.test.ticket",
        },
        { content: "find PO0042", trigger: ".modal .o_field_widget[name=target] input", run: "edit PO0042" },
        { content: "choose it", trigger: ".o-autocomplete--dropdown-item:contains(PO0042)", run: "click" },
        screenshot("quarantine_route_to", ".modal .o_field_widget[name=target] input:value(PO0042)"),
        { content: "route", trigger: ".modal button[name=action_route]", run: "click" },
        { content: "the screen says where it went", trigger: ".o_notification:contains(posted on PO0042)" },
        { content: "the mail is routed", trigger: ".o_statusbar_status .o_arrow_button_current:contains(Routed)" },
    ],
});

tours.add("mail_router_log_target", {
    steps: () => [
        screenshot("routing_log", ".o_data_row:contains(Re: Toner order)"),
        { content: "open the decision", trigger: ".o_data_row:contains(Re: Toner order) td[name=subject]", run: "click" },
        { content: "it names the header", trigger: ".o_field_widget[name=stage]:contains(In-Reply-To)" },
        screenshot("routing_log_entry", ".o_field_widget[name=reason]:contains(a stored message)"),
        { content: "open the target record", trigger: "button[name=action_open_target]", run: "click" },
        {
            content: "scroll to its chatter",
            trigger: ".o-mail-Chatter",
            run() {
                this.anchor.scrollIntoView();
            },
        },
        screenshot("target_record", ".o-mail-Message:contains(toner)"),
    ],
});

// mail_router/tests/test_fetch_tour.py, run by the system suite against a real Dovecot:
// the server's coordinates are in the session storage.
const dovecot = () => JSON.parse(sessionStorage.getItem("mail_router_dovecot"));

/** Steps opening a menu of Settings > Technical (debug mode). */
function technicalMenu(xmlid, name) {
    return [
        { content: "Technical", trigger: ".o_main_navbar button[data-menu-xmlid='base.menu_custom']", run: "click" },
        { content: name, trigger: `.dropdown-item[data-menu-xmlid='${xmlid}']`, run: "click" },
    ];
}

tours.add("mail_router_fetch", {
    steps: () => [
        ...technicalMenu("base.menu_ir_cron_act", "Scheduled Actions"),
        { content: "the fetch cron", trigger: ".o_data_row td:contains(Fetchmail Service)", run: "click" },
        screenshot("fetch_cron_off", ".o_form_view .alert-warning:contains(No active incoming mail server is confirmed)"),

        ...technicalMenu("mail.menu_action_fetchmail_server_tree", "Incoming Mail Servers"),
        { content: "a new server", trigger: ".o_list_button_add", run: "click" },
        { content: "its name", trigger: ".o_field_widget[name=name] input", run: "edit Dovecot" },
        { content: "host", trigger: ".o_field_widget[name=server] input", run: (h) => h.edit(dovecot().host) },
        { content: "port", trigger: ".o_field_widget[name=port] input", run: (h) => h.edit(String(dovecot().port)) },
        { content: "its CA", trigger: ".o_field_widget[name=ca_file] input", run: (h) => h.edit(dovecot().ca_file) },
        { content: "login", trigger: ".o_field_widget[name=user] input", run: (h) => h.edit(dovecot().user) },
        { content: "a wrong password", trigger: ".o_field_widget[name=password] input", run: "edit not the password" },
        { content: "test", trigger: "button[name=button_confirm_login]", run: "click" },
        { content: "the error names the cause", trigger: ".modal .modal-body:contains(refused the login)" },
        { content: "close it", trigger: ".modal .modal-footer .btn-primary", run: "click" },
        { content: "back to the list", trigger: ".o_breadcrumb .breadcrumb-item:contains(Incoming Mail Servers)", run: "click" },
        { content: "open the server again", trigger: ".o_data_row td[name=name]:contains(Dovecot)", run: "click" },
        { content: "its Health tab", trigger: ".o_notebook .nav-link[name=mail_router_health]", run: "click" },
        screenshot("server_test_failed", ".o_field_widget[name=last_error]:contains(refused the login)"),
        { content: "back to the login", trigger: ".o_notebook .nav-link[name=server_login_details]", run: "click" },
        { content: "the password", trigger: ".o_field_widget[name=password] input", run: (h) => h.edit(dovecot().password) },
        { content: "test again", trigger: "button[name=button_confirm_login]", run: "click" },
        { content: "confirmed", trigger: ".o_statusbar_status .o_arrow_button_current:contains(Confirmed)" },
        screenshot("server_confirmed", ".o_notification:contains(2 messages in folder INBOX)"),

        ...technicalMenu("base.menu_ir_cron_act", "Scheduled Actions"),
        { content: "the fetch cron", trigger: ".o_data_row td:contains(Fetchmail Service)", run: "click" },
        { content: "now on", trigger: ".o_field_widget[name=active] input:checked" },
        { content: "run it", trigger: "button[name=method_direct_trigger]", run: "click" },
        { content: "what it fetched", trigger: ".o_notification:contains(2 fetched from 1 server)" },
        screenshot("fetch_run_manually", ".o_notification:contains(1 quarantined)"),
        { content: "close the notification", trigger: ".o_notification .o_notification_close", run: "click" },

        ...technicalMenu("mail_router.mail_router_log_menu", "Routing Log"),
        { content: "open the reply's decision", trigger: ".o_data_row:contains(Re: Toner order) td[name=subject]", run: "click" },
        { content: "it names the header", trigger: ".o_field_widget[name=stage]:contains(In-Reply-To)" },
        { content: "open the target record", trigger: "button[name=action_open_target]", run: "click" },
        {
            content: "scroll to its chatter",
            trigger: ".o-mail-Chatter",
            run() {
                this.anchor.scrollIntoView();
            },
        },
        screenshot("fetched_reply", ".o-mail-Message:contains(Ann Vendor):contains(toner)"),

        { content: "General Settings", trigger: ".o_main_navbar [data-menu-xmlid='base.menu_administration']", run: "click" },
        screenshot("settings_quarantine", "#mail_router_quarantine_setting:contains(1 mail waiting in quarantine)"),
        { content: "open the quarantine", trigger: "button[name=action_mail_router_open_quarantine]", run: "click" },
        { content: "on the waiting mail", trigger: ".o_searchview_facet:contains(Waiting)" },
        { content: "the stray mail waits", trigger: ".o_data_row:contains(Lost invoice)" },
    ],
});
