// The supervisor's view: "The line at a glance" (GET /volunteer/line) — waiting count and longest wait,
// volunteers by status, active conversations with their levels, open escalations with time since paged;
// Acknowledge, and Reveal number (a reason of at least 10 characters; audited by the API before it decrypts).

import { h, fill, clear, duration, secondsSince } from "./dom.js";
import { levelBadge } from "./conversation.js";

const MIN_REASON = 10;

export class LineView {
  constructor({ api, section, body, dialog, dialogBody, guard, onUnavailable }) {
    this.api = api;
    this.section = section;
    this.body = body;
    this.dialog = dialog;
    this.dialogBody = dialogBody;
    this.guard = guard;
    this.onUnavailable = onUnavailable;
    this.data = null;
    this.available = true;
    this.error = h("div", { class: "error", role: "alert" });
    this.status = h("p", { class: "sr-only", role: "status" });
    this.content = h("div", {});
    fill(this.body, this.error, this.status, this.content);
    this.dialog.addEventListener("close", () => this.#forgetNumber());
  }

  async refresh() {
    if (!this.available) return;
    try {
      this.data = await this.guard(this.api.line());
      this.render();
    } catch (error) {
      if (error.status === 404) {
        // getLine not deployed yet on this line: hide the section rather than break the page.
        this.available = false;
        this.section.hidden = true;
        this.onUnavailable();
      } else if (error.status !== 401) {
        fill(this.error, `The line overview could not be refreshed: ${error.message}`);
      }
    }
  }

  render(now = Date.now()) {
    const data = this.data;
    if (!data) return;
    clear(this.error);
    const focused = document.activeElement;
    const focusKey = focused && focused.dataset ? focused.dataset.focusKey : null;
    const volunteers = data.volunteers || {};
    const longest = data.longest_wait_seconds;
    fill(this.content,
      h("dl", { class: "stats" },
        h("dt", {}, "Waiting"), h("dd", { "data-stat": "waiting" }, String(data.waiting ?? 0)),
        h("dt", {}, "Longest wait"), h("dd", { "data-stat": "longest-wait" },
          longest === null || longest === undefined ? "—" : duration(longest)),
        h("dt", {}, "Volunteers"), h("dd", { "data-stat": "volunteers" },
          `${volunteers.available ?? 0} available · ${volunteers.away ?? 0} away · ${volunteers.offline ?? 0} offline`)),
      h("h3", {}, `Active conversations (${(data.active || []).length})`),
      this.#active(data.active || [], now),
      h("h3", {}, `Open escalations (${(data.escalations || []).length})`),
      this.#escalations(data.escalations || [], now));
    if (focusKey) {
      const again = this.content.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  #active(conversations, now) {
    if (!conversations.length) return h("p", { class: "muted" }, "No conversation is offered or active.");
    return h("ul", { class: "line-list", "aria-label": "Active conversations" }, conversations.map((c) => {
      const since = secondsSince(c.accepted_at || c.waiting_since, now);
      return h("li", { dataset: { conversationId: c.id } },
        h("div", { class: "row" },
          h("strong", {}, c.texter_alias),
          levelBadge(c.risk_level) || h("span", { class: "muted" }, "no risk flagged"),
          h("span", { class: "badge status" }, c.status),
          since === null ? null : h("span", { class: "muted" }, duration(since)),
          c.needs_supervisor ? h("span", { class: "badge level-concern" }, "needs supervisor") : null));
    }));
  }

  #escalations(escalations, now) {
    if (!escalations.length) return h("p", { class: "muted" }, "No open escalations.");
    return h("ul", { class: "line-list", "aria-label": "Open escalations" }, escalations.map((e) => {
      const paged = secondsSince(e.last_paged_at, now);
      const acknowledged = e.status === "acknowledged";
      const label = `${e.texter_alias} (code ${e.code})`;
      return h("li", { dataset: { escalationId: e.id } },
        h("div", { class: "row" },
          h("strong", {}, e.texter_alias), levelBadge(e.level),
          h("span", {}, `code ${e.code}`),
          h("span", { class: "badge status" }, e.status)),
        h("p", { class: "muted" },
          (e.categories || []).map((c) => c.replace(/_/g, " ")).join(", ") || "no category",
          " · ",
          paged === null ? "not paged yet" : `paged ${duration(paged)} ago`,
          ` · ${e.page_count ?? 0} page${e.page_count === 1 ? "" : "s"}`,
          acknowledged && e.acknowledged_by ? ` · acknowledged by ${e.acknowledged_by}` : ""),
        h("div", { class: "buttons" },
          acknowledged ? null : h("button", {
            type: "button", class: "primary", "aria-label": undefined, title: `Acknowledge ${label}`,
            dataset: { focusKey: `ack-${e.id}` }, onclick: (event) => this.#acknowledge(e, event.currentTarget),
          }, "Acknowledge"),
          h("button", {
            type: "button", class: "danger", title: `Reveal the number of ${label}`,
            dataset: { focusKey: `reveal-${e.id}` }, onclick: () => this.#askReason(e),
          }, "Reveal number")));
    }));
  }

  async #acknowledge(escalation, button) {
    button.disabled = true;
    try {
      await this.guard(this.api.acknowledge(escalation.id));
      this.status.textContent = `Escalation ${escalation.code} for ${escalation.texter_alias} acknowledged.`;
      await this.refresh();
    } catch (error) {
      button.disabled = false;
      if (error.status !== 401) fill(this.error, `Not acknowledged: ${error.message}`);
    }
  }

  // ------------------------------------------------------------------ reveal
  #askReason(escalation) {
    const reason = h("textarea", { id: "reveal-reason", rows: "3", minlength: String(MIN_REASON), required: true,
      "aria-describedby": "reveal-hint" });
    const error = h("div", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit", class: "danger-solid" }, "Confirm and reveal");
    const form = h("form", {
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clear(error);
        const text = reason.value.trim();
        if (text.length < MIN_REASON) {
          fill(error, `Give a reason of at least ${MIN_REASON} characters.`);
          reason.focus();
          return;
        }
        submit.disabled = true;
        try {
          const revealed = await this.guard(this.api.reveal(escalation.id, text));
          this.#showNumber(escalation, revealed);
        } catch (failure) {
          submit.disabled = false;
          if (failure.status !== 401) fill(error, `Not revealed: ${failure.message}`);
        }
      },
    },
    h("p", {}, `For an active rescue of ${escalation.texter_alias} only. Your name and reason are recorded before `
      + "the number is shown."),
    h("div", { class: "field" },
      h("label", { for: "reveal-reason" }, "Reason"), reason,
      h("p", { id: "reveal-hint", class: "hint" }, `At least ${MIN_REASON} characters, e.g. "911 dispatch requested the number".`)),
    error,
    h("div", { class: "subform-buttons buttons" }, submit,
      h("button", { type: "button", onclick: () => this.dialog.close() }, "Cancel")));
    fill(this.dialogBody, form);
    if (!this.dialog.open) this.dialog.showModal();
    reason.focus();
  }

  #showNumber(escalation, revealed) {
    const done = h("button", { type: "button", class: "primary", onclick: () => {
      this.#forgetNumber();
      this.dialog.close();
    } }, "Done");
    fill(this.dialogBody,
      h("p", {}, `Number for ${revealed.texter_alias || escalation.texter_alias} (escalation ${escalation.code}):`),
      h("p", { class: "revealed-number", "data-revealed-number": "" }, revealed.number),
      h("p", { class: "hint" }, "This reveal is audited. The number disappears when you close this dialog."),
      h("div", { class: "buttons" }, done));
    done.focus();
  }

  #forgetNumber() {
    clear(this.dialogBody); // the number is never left in the page
  }
}
