// The supervisor's view: "The line at a glance" (GET /volunteer/line) — waiting count and longest wait,
// volunteers by status, the queue with Assign (assignConversation), every open conversation with who holds it and
// the time since the texter's last text (unanswered high/imminent texters highlighted; Read opens the transcript,
// read only), open and acknowledged escalations; Acknowledge, and Reveal number (a reason of at least 10 characters; audited by the API before it decrypts).

import { h, fill, clear, duration, secondsSince, hourMinute } from "./dom.js";
import { levelBadge, purposeLabel } from "./conversation.js";

const MIN_REASON = 10;

export class LineView {
  constructor({ api, section, body, dialog, dialogBody, guard, onUnavailable, me = () => null, onAssigned = () => {} }) {
    this.api = api;
    this.section = section;
    this.body = body;
    this.dialog = dialog;
    this.dialogBody = dialogBody;
    this.guard = guard;
    this.onUnavailable = onUnavailable;
    this.me = me;
    this.onAssigned = onAssigned;
    this.data = null;
    this.available = true;
    this.assignChoice = new Map(); // conversation id → chosen volunteer, kept across re-renders
    this.reading = null; // {id, alias}: the conversation whose transcript is open, read only
    this.readMessages = new Map();
    this.error = h("div", { class: "error", role: "alert" }); // the overview could not be refreshed
    // What an Assign or Acknowledge answered: kept until the next action, not wiped by the periodic re-render.
    this.actionError = h("div", { class: "error", role: "alert" });
    this.status = h("p", { class: "line-status", role: "status" });
    this.content = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    this.reader = h("section", { class: "reader", hidden: true });
    fill(this.body, this.error, this.actionError, this.status, this.content, this.reader);
    this.dialog.addEventListener("close", () => this.#forgetNumber());
  }

  async refresh() {
    if (!this.available) return;
    try {
      this.data = await this.guard(this.api.line());
      // Re-rendering under an open drop-down would close it: wait for the next refresh.
      const focused = document.activeElement;
      if (!(focused && focused.tagName === "SELECT" && this.content.contains(focused))) this.render();
      if (this.reading) await this.#loadTranscript();
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
    const queue = data.queue || [];
    const open = data.active || [];
    const escalations = data.escalations || [];
    const openEscalations = escalations.filter((e) => e.status !== "acknowledged").length;
    fill(this.content,
      h("dl", { class: "stats" },
        h("dt", {}, "Waiting"), h("dd", { "data-stat": "waiting" }, String(data.waiting ?? 0)),
        h("dt", {}, "Longest wait"), h("dd", { "data-stat": "longest-wait" },
          longest === null || longest === undefined ? "—" : duration(longest)),
        h("dt", {}, "Volunteers"), h("dd", { "data-stat": "volunteers" },
          `${volunteers.available ?? 0} available · ${volunteers.away ?? 0} away · ${volunteers.offline ?? 0} offline`)),
      h("h3", {}, `Queue (${queue.length} waiting)`),
      this.#queue(queue, data.available_volunteers || [], now),
      h("h3", {}, `Open conversations (${open.length})`),
      this.#open(open, now),
      h("h3", {}, `Escalations (${openEscalations} open, ${escalations.length - openEscalations} acknowledged)`),
      this.#escalations(escalations, now));
    if (focusKey) {
      const again = this.content.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
    if (this.reading && !open.some((c) => c.id === this.reading.id) && !queue.some((c) => c.id === this.reading.id)) {
      this.#closeReader(`The conversation with ${this.reading.alias} has closed.`);
    }
  }

  #queue(queue, available, now) {
    if (!queue.length) return h("p", { class: "muted" }, "Nobody is waiting.");
    const me = this.me();
    const others = available.filter((v) => !me || v.volunteer_id !== me.volunteer_id);
    return h("ul", { class: "line-list", "aria-label": "Queue" }, queue.map((c) => {
      const waited = typeof c.waiting_seconds === "number" ? c.waiting_seconds : secondsSince(c.waiting_since, now);
      const selectId = `assign-${c.id}`;
      const select = h("select", {
        id: selectId, dataset: { focusKey: `assign-select-${c.id}` },
        onchange: (event) => { this.assignChoice.set(c.id, event.target.value); },
      },
      h("option", { value: "" }, "Choose a volunteer…"),
      others.map((v) => h("option", { value: v.volunteer_id },
        `${v.display_name} (${v.load ?? 0} of ${v.max_concurrent ?? "?"}${(v.languages || []).length ? ` · ${v.languages.join(", ")}` : ""})`)),
      // The line refuses a take by someone offline: say so before they try.
      me ? h("option", { value: me.volunteer_id, disabled: me.status === "offline" },
        me.status === "offline" ? "Take it myself (set yourself Away or Available first)" : "Take it myself") : null);
      select.value = this.assignChoice.get(c.id) || "";
      return h("li", { dataset: { conversationId: c.id }, class: this.#urgent(c) ? "urgent" : "" },
        h("div", { class: "row" },
          h("strong", {}, c.texter_alias),
          levelBadge(c.risk_level) || h("span", { class: "muted" }, "no risk flagged"),
          waited === null ? null : h("span", {}, `waiting ${duration(waited)}`),
          c.language ? h("span", { class: "muted" }, `language ${c.language}`) : null),
        c.preview ? h("p", { class: "preview" }, h("span", { class: "sr-only" }, "First text: "), h("q", {}, c.preview)) : null,
        h("div", { class: "assign" },
          h("label", { for: selectId }, `Assign ${c.texter_alias} to`), select,
          h("button", { type: "button", class: "primary", dataset: { focusKey: `assign-${c.id}` },
            onclick: (event) => this.#assign(c, select.value, event.currentTarget) }, "Assign")));
    }));
  }

  #urgent(c) {
    return Boolean(c.awaiting_reply) && ["high", "imminent"].includes(c.risk_level);
  }

  #open(conversations, now) {
    if (!conversations.length) return h("p", { class: "muted" }, "No conversation is offered or active.");
    return h("ul", { class: "line-list", "aria-label": "Open conversations" }, conversations.map((c) => {
      const last = secondsSince(c.last_texter_at, now);
      const holder = c.volunteer_name || "a volunteer";
      const urgent = this.#urgent(c);
      return h("li", { dataset: { conversationId: c.id }, class: urgent ? "urgent" : "" },
        h("div", { class: "row" },
          urgent ? h("span", { class: "badge urgent-badge" }, "Unanswered") : null,
          h("strong", {}, c.texter_alias),
          levelBadge(c.risk_level) || h("span", { class: "muted" }, "no risk flagged"),
          h("span", {}, c.status === "offered" ? `offered to ${holder}` : `with ${holder}`),
          c.needs_supervisor ? h("span", { class: "badge level-concern" }, "needs supervisor") : null),
        h("p", { class: "muted" },
          last === null ? "no text from the texter yet" : `texter's last text ${duration(last)} ago`,
          c.awaiting_reply ? " · awaiting a reply" : ""),
        h("div", { class: "buttons" },
          h("button", { type: "button", dataset: { focusKey: `read-${c.id}` },
            "aria-expanded": String(Boolean(this.reading && this.reading.id === c.id)),
            onclick: () => this.#openReader(c) }, `Read ${c.texter_alias}`),
          // A conversation whose volunteer went offline: back to the queue, where it can be assigned again.
          c.needs_supervisor && c.status === "active"
            ? h("button", { type: "button", dataset: { focusKey: `requeue-${c.id}` },
              onclick: (event) => this.#requeue(c, event.currentTarget) }, `Move ${c.texter_alias} back to the queue`)
            : null));
    }));
  }

  async #requeue(conversation, button) {
    clear(this.actionError);
    this.status.textContent = "";
    button.disabled = true;
    try {
      await this.guard(this.api.transfer(conversation.id, "queue"));
      this.status.textContent = `${conversation.texter_alias} is back in the queue: assign it, or it goes to the next free volunteer.`;
      await this.refresh();
    } catch (error) {
      button.disabled = false;
      if (error.status !== 401) fill(this.actionError, `Not moved: ${error.message}`);
    }
  }

  #escalations(escalations, now) {
    if (!escalations.length) return h("p", { class: "muted" }, "No open escalations.");
    return h("ul", { class: "line-list", "aria-label": "Escalations" }, escalations.map((e) => {
      const paged = secondsSince(e.last_paged_at, now);
      const acknowledged = e.status === "acknowledged";
      const label = `${e.texter_alias} (code ${e.code})`;
      return h("li", { dataset: { escalationId: e.id, status: e.status } },
        h("div", { class: "row" },
          h("strong", {}, e.texter_alias), levelBadge(e.level),
          h("span", {}, `code ${e.code}`),
          h("span", { class: "badge status" }, e.status)),
        h("p", { class: "muted" },
          (e.categories || []).map((c) => c.replace(/_/g, " ")).join(", ") || "no category",
          " · ",
          paged === null ? "not paged yet" : `paged ${duration(paged)} ago`,
          ` · ${e.page_count ?? 0} page${e.page_count === 1 ? "" : "s"}`),
        acknowledged ? h("p", { class: "acknowledged" },
          `Acknowledged by ${e.acknowledged_by || "a supervisor"}`,
          e.acknowledged_at ? ` at ${hourMinute(e.acknowledged_at)}` : "") : null,
        h("div", { class: "buttons" },
          acknowledged ? null : h("button", {
            type: "button", class: "primary", title: `Acknowledge ${label}`,
            dataset: { focusKey: `ack-${e.id}` }, onclick: (event) => this.#acknowledge(e, event.currentTarget),
          }, "Acknowledge"),
          h("button", {
            type: "button", class: "danger", title: `Reveal the number of ${label}`,
            dataset: { focusKey: `reveal-${e.id}` }, onclick: () => this.#askReason(e),
          }, "Reveal number")));
    }));
  }

  async #assign(conversation, to, button) {
    clear(this.actionError);
    this.status.textContent = "";
    if (!to) {
      fill(this.actionError, `Choose who should take ${conversation.texter_alias} first.`);
      this.content.querySelector(`#${CSS.escape(`assign-${conversation.id}`)}`)?.focus();
      return;
    }
    const me = this.me();
    button.disabled = true;
    try {
      const summary = await this.guard(this.api.assign(conversation.id, to));
      this.assignChoice.delete(conversation.id);
      const other = (this.data?.available_volunteers || []).find((v) => v.volunteer_id === to);
      this.status.textContent = me && to === me.volunteer_id
        ? `You now have the conversation with ${conversation.texter_alias}.`
        : `${conversation.texter_alias} was offered to ${other ? other.display_name : "the volunteer"}.`;
      this.onAssigned(summary);
      await this.refresh();
    } catch (error) {
      button.disabled = false;
      if (error.status !== 401) fill(this.actionError, `Not assigned: ${error.message}`);
    }
  }

  // ------------------------------------------------------------------ read-only transcript
  /** A live text: shown at once when it belongs to the conversation being read. */
  onMessage(message) {
    if (!this.reading || !message || message.conversation_id !== this.reading.id) return false;
    this.#mergeMessages([message]);
    return true;
  }

  async #openReader(conversation) {
    this.reading = { id: conversation.id, alias: conversation.texter_alias };
    this.readMessages = new Map();
    this.readPagedBack = false;
    this.readLog = h("ol", { class: "transcript", role: "log", tabindex: "0",
      "aria-label": `Conversation with ${conversation.texter_alias}, read only` },
    h("li", { class: "empty-log" }, "Loading messages…"));
    const closeButton = h("button", { type: "button", onclick: () => this.#closeReader() },
      `Close ${conversation.texter_alias}'s transcript`);
    // The transcript comes a page at a time (the newest first); this loads the page before the earliest shown.
    this.readEarlier = h("button", { type: "button", class: "earlier", hidden: true,
      onclick: () => this.#loadTranscript(this.readCursor) }, "Earlier messages");
    this.readCursor = null;
    this.reader.hidden = false;
    fill(this.reader,
      h("h3", {}, `Transcript of ${conversation.texter_alias} (read only)`),
      h("p", { class: "hint" }, `With ${conversation.volunteer_name || "a volunteer"}. Supervisors read; only the volunteer replies.`),
      this.readEarlier, this.readLog, h("div", { class: "buttons" }, closeButton));
    this.render();
    closeButton.focus();
    await this.#loadTranscript();
  }

  #closeReader(note) {
    this.reading = null;
    this.readMessages = new Map();
    clear(this.reader);
    this.reader.hidden = true;
    if (note) this.status.textContent = note;
  }

  async #loadTranscript(cursor = null) {
    const id = this.reading && this.reading.id;
    if (!id) return;
    try {
      const data = await this.guard(this.api.messages(id, cursor));
      if (!this.reading || this.reading.id !== id) return;
      // The newest page (again, when refreshed) leaves the button where earlier pages got it to.
      if (cursor || !this.readPagedBack) {
        this.readPagedBack = this.readPagedBack || Boolean(cursor);
        this.readCursor = (data && data.next_cursor) || null;
        this.readEarlier.hidden = !this.readCursor;
      }
      this.#mergeMessages((data && data.messages) || [], true, { keepScroll: Boolean(cursor) });
      if (cursor && this.readEarlier.hidden) this.readLog.focus();
    } catch (error) {
      if (error.status === 404) this.#closeReader("That conversation has closed.");
      else if (error.status !== 401 && this.readLog) fill(this.readLog, h("li", { class: "empty-log" }, `Not loaded: ${error.message}`));
    }
  }

  #mergeMessages(messages, loaded = false, { keepScroll = false } = {}) {
    let changed = false;
    for (const m of messages) {
      if (m && m.id && !this.readMessages.has(m.id)) {
        this.readMessages.set(m.id, m);
        changed = true;
      }
    }
    if (!changed && !loaded) return;
    const alias = this.reading.alias;
    const sorted = [...this.readMessages.values()].sort((a, b) => (Date.parse(a.at) - Date.parse(b.at)) || (a.id < b.id ? -1 : 1));
    fill(this.readLog, sorted.length ? sorted.map((m) => {
      const automatic = m.direction === "automatic";
      const who = m.direction === "inbound" ? alias : automatic ? "Automatic" : "Volunteer";
      return h("li", { class: `msg ${m.direction}`, dataset: { messageId: m.id, direction: m.direction } },
        automatic ? h("span", { class: "auto-label" }, "Automatic", m.purpose ? ` · ${purposeLabel(m.purpose)}` : "") : null,
        h("span", { class: "body" }, m.body),
        h("span", { class: "meta" }, `${who} · `, h("time", { datetime: m.at }, hourMinute(m.at))));
    }) : h("li", { class: "empty-log" }, "No messages yet."));
    if (!keepScroll) this.readLog.scrollTop = this.readLog.scrollHeight;
  }

  async #acknowledge(escalation, button) {
    clear(this.actionError);
    this.status.textContent = "";
    button.disabled = true;
    try {
      const result = await this.guard(this.api.acknowledge(escalation.id));
      // Someone may have been quicker: the line says so, and that is what we show.
      this.status.textContent = (result && result.message)
        || (result && result.already_acknowledged
          ? `Escalation ${escalation.code} for ${escalation.texter_alias} was already acknowledged.`
          : `Escalation ${escalation.code} for ${escalation.texter_alias} acknowledged.`);
      await this.refresh();
    } catch (error) {
      button.disabled = false;
      if (error.status !== 401) fill(this.actionError, `Not acknowledged: ${error.message}`);
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
