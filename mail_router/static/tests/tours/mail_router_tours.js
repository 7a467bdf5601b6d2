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
