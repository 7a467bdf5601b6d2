/** @odoo-module **/
// The operator screens in a real browser, as a Settings administrator without developer
// mode reaches them: Settings > Mail Routing > ..., and General Settings > Emails.
// test_mail_router/tests/test_operator_browser.py sets up the data and saves a screenshot at
// each screenshot() step; mail_router/tests/test_fetch_tour.py runs mail_router_fetch against
// a real Dovecot.
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

/** A step that fails unless developer mode is off: the paths below are a new administrator's. */
function withoutDeveloperMode() {
    return {
        content: "developer mode is off",
        trigger: ".o_main_navbar",
        run() {
            if (odoo.debug || new URLSearchParams(location.search).has("debug") || document.querySelector(".o_debug_manager")) {
                throw new Error("developer mode is on: the tour must walk the paths without it");
            }
        },
    };
}

/** Steps opening Settings > Mail Routing > `name` from any app: the apps menu, Settings,
 * then the Mail Routing menu. */
function mailRoutingMenu(xmlid, name) {
    return [
        { content: "the apps menu", trigger: ".o_navbar_apps_menu button", run: "click" },
        { content: "Settings", trigger: ".o-dropdown-item[data-menu-xmlid='base.menu_administration'], .o_app[data-menu-xmlid='base.menu_administration']", run: "click" },
        { content: "Mail Routing", trigger: ".o_main_navbar button[data-menu-xmlid='mail_router.mail_router_menu_root']", run: "click" },
        { content: name, trigger: `.dropdown-item[data-menu-xmlid='${xmlid}']`, run: "click" },
    ];
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
        withoutDeveloperMode(),
        ...mailRoutingMenu("mail_router.mail_router_simulator_menu", "Routing Simulator"),
        {
            content: "paste a mail",
            trigger: ".modal .o_field_widget[name=raw_message] textarea",
            run: (helpers) => helpers.edit(PASTED_MAIL),
        },
        { content: "simulate", trigger: ".modal button[name=action_simulate]", run: "click" },
        { content: "the alias decides", trigger: ".o_field_widget[name=stage]:contains(Alias)" },
        {
            content: "the reason names the alias and the kind of record, in words",
            trigger: ".o_field_widget[name=reason]:contains(the alias tickets@mail-router-tour.example: a new Mail Router Test Ticket)",
        },
        { content: "the trace names each stage by its label", trigger: ".o_field_widget[name=step_ids] .o_data_row:contains(Record Address)" },
        { content: "and shows the stages not reached", trigger: ".o_field_widget[name=step_ids] .o_data_row:contains(Not reached)" },
        { content: "the deciding stage", trigger: ".o_field_widget[name=step_ids] .o_data_row:contains(Decided)" },
        screenshot("simulator", ".modal .o_field_widget[name=target_description]"),
    ],
});

tours.add("mail_router_quarantine", {
    steps: () => [
        withoutDeveloperMode(),
        ...mailRoutingMenu("mail_router.mail_router_quarantine_menu", "Mail Quarantine"),
        { content: "the waiting mail only", trigger: ".o_searchview_facet:contains(Waiting)" },
        { content: "its cause, in a word", trigger: ".o_data_row:contains(Lost invoice) td[name=cause]:contains(No alias or thread)" },
        screenshot("quarantine_list", ".o_data_row:contains(Lost invoice) td[name=state]:contains(Waiting)"),
        { content: "open the waiting mail", trigger: ".o_data_row:contains(Lost invoice) td[name=subject]", run: "click" },
        { content: "titled by its subject", trigger: ".o_form_view .oe_title:contains(Lost invoice)" },
        { content: "its reason names the address", trigger: ".o_field_widget[name=reason]:contains(there is no alias nobody@mail-router-tour.example)" },
        { content: "and what to do", trigger: ".o_field_widget[name=advice]:contains(Create the alias it was written to)" },
        { content: "its text", trigger: ".o_field_widget[name=preview_body]:contains(Please find our invoice)" },
        screenshot("quarantine_preview", ".o_field_widget[name=preview_headers]:contains(Subject: Lost invoice)"),
        { content: "route it", trigger: "button[name=action_route_to]", run: "click" },
        {
            content: "the models that receive mail are offered, not every model with a chatter",
            trigger: ".modal .o_field_widget[name=target] select:has(option[value='mail.router.test.ticket']):not(:has(option[value='mail.blacklist']))",
        },
        {
            content: "to a ticket",
            trigger: ".modal .o_field_widget[name=target] select",
            run: "select mail.router.test.ticket",
        },
        { content: "find PO0042", trigger: ".modal .o_field_widget[name=target] input", run: "edit PO0042" },
        { content: "choose it", trigger: ".o-autocomplete--dropdown-item:contains(PO0042)", run: "click" },
        screenshot("quarantine_route_to", ".modal .o_field_widget[name=target] input:value(PO0042)"),
        { content: "route", trigger: ".modal button[name=action_route]", run: "click" },
        { content: "the screen says where it went", trigger: ".o_notification:contains(Routed to PO0042):contains(posted on PO0042)" },
        { content: "the mail is routed", trigger: ".o_statusbar_status .o_arrow_button_current:contains(Routed)" },
    ],
});

tours.add("mail_router_log_target", {
    steps: () => [
        withoutDeveloperMode(),
        ...mailRoutingMenu("mail_router.mail_router_log_menu", "Routing Log"),
        { content: "the subject, readable", trigger: ".o_data_row td[name=subject]:contains(Re: Toner order)" },
        { content: "the stage by its label", trigger: ".o_data_row td[name=stage]:contains(In-Reply-To)" },
        screenshot("routing_log", ".o_data_row td[name=target_record]:contains(Toner Supplies)"),
        { content: "open the decision", trigger: ".o_data_row:contains(Re: Toner order) td[name=subject]", run: "click" },
        { content: "titled by its subject", trigger: ".o_form_view .oe_title:contains(Re: Toner order)" },
        { content: "it names the header", trigger: ".o_field_widget[name=stage]:contains(In-Reply-To)" },
        { content: "no technical name", trigger: ".o_form_view:not(:has(.o_field_widget[name=target_model]))" },
        screenshot("routing_log_entry", ".o_field_widget[name=reason]:contains(a reply (In-Reply-To) to a message posted on Toner Supplies)"),
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

tours.add("mail_router_fetch", {
    steps: () => [
        withoutDeveloperMode(),
        ...mailRoutingMenu("mail_router.mail_router_fetch_cron_menu", "Scheduled Fetch"),
        screenshot("fetch_cron_off", ".o_form_view .alert-warning:contains(No active incoming mail server is confirmed)"),

        ...mailRoutingMenu("mail_router.mail_router_server_menu", "Incoming Mail Servers"),
        { content: "a new server", trigger: ".o_list_button_add", run: "click" },
        { content: "its name", trigger: ".o_field_widget[name=name] input", run: "edit Dovecot" },
        { content: "host", trigger: ".o_field_widget[name=server] input", run: (h) => h.edit(dovecot().host) },
        { content: "port", trigger: ".o_field_widget[name=port] input", run: (h) => h.edit(String(dovecot().port)) },
        { content: "its CA", trigger: ".o_field_widget[name=ca_file] input", run: (h) => h.edit(dovecot().ca_file) },
        { content: "login", trigger: ".o_field_widget[name=user] input", run: (h) => h.edit(dovecot().user) },
        { content: "a wrong password", trigger: ".o_field_widget[name=password] input", run: "edit not the password" },
        { content: "Test & Confirm", trigger: "button[name=button_confirm_login]", run: "click" },
        { content: "a dialog names the cause", trigger: ".modal:contains(Test & Confirm failed) .o_field_widget[name=last_error]:contains(refused the login)" },
        { content: "close it", trigger: ".modal .modal-footer .btn-primary", run: "click" },
        { content: "the Health tab", trigger: ".o_notebook .nav-link[name=mail_router_health]", run: "click" },
        screenshot("server_test_failed", ".o_field_widget[name=last_error]:contains(Test & Confirm: ):contains(refused the login)"),
        { content: "back to the list", trigger: ".o_breadcrumb .breadcrumb-item:contains(Incoming Mail Servers)", run: "click" },
        screenshot("server_list", ".o_data_row.text-danger td[name=name]:contains(Dovecot)"),
        { content: "open the server again", trigger: ".o_data_row td[name=name]:contains(Dovecot)", run: "click" },
        { content: "the login", trigger: ".o_notebook .nav-link[name=server_login_details]", run: "click" },
        { content: "the password", trigger: ".o_field_widget[name=password] input", run: (h) => h.edit(dovecot().password) },
        { content: "Test & Confirm again", trigger: "button[name=button_confirm_login]", run: "click" },
        { content: "confirmed", trigger: ".o_statusbar_status .o_arrow_button_current:contains(Confirmed)" },
        screenshot("server_confirmed", ".o_notification:contains(Test & Confirm):contains(2 messages in folder INBOX)"),

        ...mailRoutingMenu("mail_router.mail_router_fetch_cron_menu", "Scheduled Fetch"),
        { content: "now on", trigger: ".o_field_widget[name=active] input:checked" },
        { content: "run it", trigger: "button[name=method_direct_trigger]", run: "click" },
        { content: "what it fetched", trigger: ".o_notification:contains(2 fetched from 1 server)" },
        screenshot("fetch_run_manually", ".o_notification:contains(1 quarantined)"),

        ...mailRoutingMenu("mail_router.mail_router_log_menu", "Routing Log"),
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

        { content: "the apps menu", trigger: ".o_navbar_apps_menu button", run: "click" },
        { content: "Settings: General Settings", trigger: ".o-dropdown-item[data-menu-xmlid='base.menu_administration'], .o_app[data-menu-xmlid='base.menu_administration']", run: "click" },
        screenshot("settings_quarantine", "#mail_router_quarantine_setting:contains(1 mail waiting in quarantine)"),
        { content: "open the quarantine", trigger: "button[name=action_mail_router_open_quarantine]", run: "click" },
        { content: "on the waiting mail", trigger: ".o_searchview_facet:contains(Waiting)" },
        { content: "the stray mail waits", trigger: ".o_data_row:contains(Lost invoice)" },
        withoutDeveloperMode(),
    ],
});
