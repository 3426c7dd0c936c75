// One conversation: its tab (alias, waiting time, level badge, unread marker) and its tabpanel (risk banner,
// transcript log merged by message id, reply box with segment counter, canned responses, resources, escalate,
// transfer, close with wrap-up). Only aliases are ever shown — never a number.

import { h, fill, clear, uid, duration, secondsSince, clockTime } from "./dom.js";
import { counterText, segmentInfo } from "./sms.js";
import { drafts } from "./drafts.js";

export const RISK_LEVELS = ["concern", "high", "imminent"];
export const OUTCOMES = ["supported", "referred", "escalated", "disconnected", "other"];

export function levelBadge(level) {
  if (!RISK_LEVELS.includes(level)) return null;
  return h("span", { class: `badge level-${level}` }, level);
}

export class ConversationView {
  /**
   * @param summary ConversationSummary
   * @param ctx {api, owner, library(), onSelect(view), onGone(view, text), onError(err), onChanged(), guard(promise)}
   */
  constructor(summary, ctx) {
    this.id = summary.id;
    this.ctx = ctx;
    this.summary = summary;
    this.messages = new Map();
    this.loaded = false;
    this.unread = false;
    this.selected = false;
    const key = uid("conv");
    this.tabId = `${key}-tab`;
    this.panelId = `${key}-panel`;
    this.#buildTab();
    this.#buildPanel();
    this.update(summary);
  }

  // ------------------------------------------------------------------ tab
  #buildTab() {
    this.tabAlias = h("span", { class: "tab-alias" });
    this.tabWait = h("span", { class: "tab-wait" });
    this.tabLevel = h("span", { class: "tab-level" });
    // Said by screen readers (part of the tab's name) and shown as text, not a coloured dot alone.
    this.tabUnread = h("span", { class: "unread", hidden: true },
      h("span", { class: "dot", "aria-hidden": "true" }), "unread");
    this.tab = h("button", {
      type: "button", role: "tab", id: this.tabId, "aria-controls": this.panelId, "aria-selected": "false",
      tabindex: "-1", dataset: { conversationId: this.id },
      onclick: () => this.ctx.onSelect(this, { focus: false }),
    }, this.tabAlias, this.tabWait, this.tabLevel, this.tabUnread);
  }

  // ------------------------------------------------------------------ panel
  #buildPanel() {
    const owner = this.ctx.owner;
    this.heading = h("h3", {});
    this.meta = h("span", { class: "muted" });
    this.risk = h("div", { class: "risk", role: "alert" });
    this.error = h("div", { class: "error", role: "alert" });
    this.log = h("ol", { class: "transcript", role: "log", "aria-label": "Transcript", tabindex: "0" });

    const replyId = uid("reply");
    const counterId = uid("counter");
    this.reply = h("textarea", {
      id: replyId, name: "reply", rows: "3", "aria-describedby": counterId,
      placeholder: "Type a reply — Enter sends, Shift+Enter adds a line",
    });
    this.reply.value = drafts.get(owner, this.id);
    this.counter = h("span", { id: counterId, class: "counter" });
    this.sendButton = h("button", { type: "submit", class: "primary" }, "Send");
    this.reply.addEventListener("input", () => {
      drafts.set(this.ctx.owner, this.id, this.reply.value);
      this.#updateCounter();
    });
    this.reply.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey) {
        event.preventDefault();
        this.#send();
      }
    });
    this.replyForm = h("form", { class: "reply", onsubmit: (event) => { event.preventDefault(); this.#send(); } },
      h("label", { for: replyId }, "Reply"),
      this.reply,
      h("div", { class: "reply-row" }, this.counter, this.sendButton));

    // Library: canned responses (a select that inserts) and resources (a list with Insert buttons).
    const cannedId = uid("canned");
    this.canned = h("select", { id: cannedId, onchange: () => this.#insertCanned() });
    this.cannedField = h("div", { class: "field" }, h("label", { for: cannedId }, "Canned responses"), this.canned);
    this.resourcesHeadingId = uid("resources");
    this.resources = h("ul", { class: "resources", "aria-labelledby": this.resourcesHeadingId });
    this.resourcesBlock = h("div", {}, h("h4", { id: this.resourcesHeadingId }, "Resources"), this.resources);
    this.tools = h("section", { class: "tools", "aria-label": "Canned responses and resources" },
      this.cannedField, this.resourcesBlock);

    // Actions: Escalate (here only while no risk banner shows one), Transfer, Close conversation.
    this.escalateAction = h("button", { type: "button", class: "danger", onclick: () => this.#escalate() }, "Escalate");
    this.transferButton = h("button", {
      type: "button", "aria-expanded": "false", onclick: () => this.#toggle("transfer"),
    }, "Transfer");
    this.closeButton = h("button", {
      type: "button", "aria-expanded": "false", onclick: () => this.#toggle("close"),
    }, "Close conversation");
    this.transferForm = this.#buildTransferForm();
    this.closeForm = this.#buildCloseForm();
    this.transferButton.setAttribute("aria-controls", this.transferForm.id);
    this.closeButton.setAttribute("aria-controls", this.closeForm.id);

    this.panel = h("section", {
      class: "panel", role: "tabpanel", id: this.panelId, "aria-labelledby": this.tabId, hidden: true,
      dataset: { conversationId: this.id },
    },
    h("div", { class: "panel-head" }, this.heading, this.meta),
    this.risk,
    this.error,
    h("div", { class: "panel-grid" },
      h("div", { class: "talk" }, this.log, this.replyForm,
        h("div", { class: "actions" }, this.escalateAction, this.transferButton, this.closeButton),
        this.transferForm, this.closeForm),
      this.tools));
    this.#updateCounter();
    this.renderLibrary();
  }

  #buildTransferForm() {
    const name = uid("transfer-to");
    const volunteerId = uid("transfer-volunteer");
    this.transferVolunteer = h("input", { id: volunteerId, type: "text", autocomplete: "off", disabled: true });
    this.transferQueue = h("input", { type: "radio", name, value: "queue", checked: true });
    this.transferPerson = h("input", { type: "radio", name, value: "volunteer" });
    const sync = () => {
      this.transferVolunteer.disabled = !this.transferPerson.checked;
      if (this.transferPerson.checked) this.transferVolunteer.focus();
    };
    this.transferQueue.addEventListener("change", sync);
    this.transferPerson.addEventListener("change", sync);
    this.transferError = h("div", { class: "error", role: "alert" });
    return h("form", {
      class: "subform", id: uid("transfer-form"), hidden: true, "aria-label": "Transfer this conversation",
      onsubmit: (event) => { event.preventDefault(); this.#transfer(); },
    },
    h("fieldset", {},
      h("legend", {}, "Transfer to"),
      h("div", { class: "radio-row" },
        h("label", {}, this.transferQueue, " The queue (next available volunteer)"),
        h("label", {}, this.transferPerson, " A named volunteer"))),
    h("div", { class: "field" }, h("label", { for: volunteerId }, "Volunteer ID"), this.transferVolunteer),
    this.transferError,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary" }, "Hand over"),
      h("button", { type: "button", onclick: () => this.#toggle(null) }, "Cancel")));
  }

  #buildCloseForm() {
    const outcomeId = uid("outcome");
    const tagsId = uid("tags");
    const tagsHint = uid("tags-hint");
    this.outcome = h("select", { id: outcomeId, required: true },
      h("option", { value: "" }, "Choose an outcome…"),
      OUTCOMES.map((outcome) => h("option", { value: outcome }, outcome)));
    this.tags = h("input", { id: tagsId, type: "text", autocomplete: "off", "aria-describedby": tagsHint });
    this.closeError = h("div", { class: "error", role: "alert" });
    return h("form", {
      class: "subform", id: uid("close-form"), hidden: true, "aria-label": "Wrap-up",
      onsubmit: (event) => { event.preventDefault(); this.#close(); },
    },
    h("p", {}, "Wrap-up: the texter gets a closing text and the transcript is deleted."),
    h("div", { class: "field" }, h("label", { for: outcomeId }, "Outcome"), this.outcome),
    h("div", { class: "field" }, h("label", { for: tagsId }, "Tags"), this.tags,
      h("p", { id: tagsHint, class: "hint" }, "Comma separated, e.g. anxiety, school")),
    this.closeError,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary" }, "Close and wrap up"),
      h("button", { type: "button", onclick: () => this.#toggle(null) }, "Cancel")));
  }

  #toggle(which) {
    const showTransfer = which === "transfer" && this.transferForm.hidden;
    const showClose = which === "close" && this.closeForm.hidden;
    this.transferForm.hidden = !showTransfer;
    this.closeForm.hidden = !showClose;
    this.transferButton.setAttribute("aria-expanded", String(showTransfer));
    this.closeButton.setAttribute("aria-expanded", String(showClose));
    if (showTransfer) this.transferQueue.focus();
    else if (showClose) this.outcome.focus();
    else if (which === null) this.reply.focus();
  }

  // ------------------------------------------------------------------ state
  get alias() {
    return this.summary.texter_alias || "Texter";
  }

  update(summary) {
    this.summary = summary;
    this.heading.textContent = `Conversation with ${this.alias}`;
    const bits = [summary.language ? `language ${summary.language}` : "", summary.status];
    this.meta.textContent = bits.filter(Boolean).join(" · ");
    this.tabAlias.textContent = this.alias;
    fill(this.tabLevel, levelBadge(summary.risk_level));
    this.#renderRisk();
    this.tick();
  }

  /** Waiting time in the tab: how long the texter has waited for a reply (or, once answered, since they arrived). */
  tick(now = Date.now()) {
    const last = this.#lastMessage();
    let text;
    if (last && last.direction === "inbound") {
      text = `waiting ${duration(secondsSince(last.at, now) ?? 0)}`;
    } else if (last) {
      text = `replied ${duration(secondsSince(last.at, now) ?? 0)} ago`;
    } else {
      const since = secondsSince(this.summary.waiting_since || this.summary.accepted_at, now);
      text = since === null ? "" : `waiting ${duration(since)}`;
    }
    if (this.tabWait.textContent !== text) this.tabWait.textContent = text;
  }

  #lastMessage() {
    let last = null;
    // The line's automatic texts (welcome, safety text…) are nobody's reply: waiting time is about people.
    for (const message of this.messages.values()) {
      if (message.direction !== "automatic" && (!last || this.#before(last, message))) last = message;
    }
    return last;
  }

  #before(a, b) {
    const ta = Date.parse(a.at) || 0;
    const tb = Date.parse(b.at) || 0;
    return ta === tb ? a.id < b.id : ta < tb;
  }

  #renderRisk() {
    const level = this.summary.risk_level;
    // Re-render only on change: the banner is an alert, and every change is announced.
    const signature = JSON.stringify([level, this.summary.volunteer_prompt, this.summary.risk_categories,
      this.summary.escalation_id, this.escalationNote]);
    if (signature === this.riskSignature) return;
    this.riskSignature = signature;
    this.risk.className = `risk level-${level}`;
    if (!RISK_LEVELS.includes(level)) {
      clear(this.risk);
      this.escalateAction.hidden = false;
      this.riskButton = null;
      return;
    }
    this.escalateAction.hidden = true; // the banner carries the one Escalate button
    const categories = (this.summary.risk_categories || []).map((c) => c.replace(/_/g, " ")).join(", ");
    const status = this.summary.escalation_id ? "Escalation open: the on-call professional was paged." : "";
    const text = h("div", { class: "risk-text" },
      h("p", { class: "risk-title" }, `Risk level: ${level}`, categories ? ` — ${categories}` : ""),
      this.summary.volunteer_prompt ? h("p", { class: "prompt" }, this.summary.volunteer_prompt) : null,
      h("p", { class: "risk-status" }, this.escalationNote || status));
    const keepFocus = this.riskButton && document.activeElement === this.riskButton;
    this.riskButton = h("button", { type: "button", onclick: () => this.#escalate() }, "Escalate");
    fill(this.risk, text, this.riskButton);
    if (keepFocus) this.riskButton.focus();
  }

  /**
   * Only the selected conversation's panel is in the document (the others are kept, detached, and still updated
   * live): every label — Reply, Outcome, Tags, Insert… — exists once on the page.
   */
  setSelected(selected, container) {
    this.selected = selected;
    this.tab.setAttribute("aria-selected", String(selected));
    this.tab.tabIndex = selected ? 0 : -1;
    this.panel.hidden = !selected;
    if (!selected) {
      this.panel.remove();
    } else if (container && this.panel.parentNode !== container) {
      container.append(this.panel);
    }
    if (selected) {
      this.setUnread(false);
      this.#scrollToEnd();
    }
  }

  setUnread(unread) {
    this.unread = unread;
    this.tabUnread.hidden = !unread;
  }

  // ------------------------------------------------------------------ transcript
  /** Merge messages by id (idempotent): no duplicates, gaps filled, order by time then id. */
  merge(messages, { fromLive = false } = {}) {
    let added = 0;
    let inbound = false;
    for (const message of messages) {
      if (!message || !message.id) continue;
      const known = this.messages.get(message.id);
      if (known && known.body === message.body && known.at === message.at) continue;
      this.messages.set(message.id, message);
      this.#place(message);
      if (!known) {
        added += 1;
        if (message.direction === "inbound") inbound = true;
      }
    }
    if (added && inbound && this.loaded && (!this.selected || document.hidden)) this.setUnread(true);
    if (added) {
      this.tick();
      this.#scrollToEnd();
    }
    if (!fromLive) this.loaded = true;
    this.#emptyNote();
    return added;
  }

  #place(message) {
    const existing = this.log.querySelector(`[data-message-id="${CSS.escape(message.id)}"]`);
    const who = { inbound: this.alias, automatic: "Peerline (automatic)" }[message.direction] ?? "You";
    const item = h("li", {
      class: `msg ${message.direction}`,
      dataset: { messageId: message.id, direction: message.direction, at: message.at },
    },
    h("span", { class: "sr-only" }, `${who}: `),
    h("span", { class: "body" }, message.body),
    h("span", { class: "meta" }, `${who} · `,
      h("time", { datetime: message.at }, clockTime(message.at))));
    if (existing) {
      existing.replaceWith(item);
      return;
    }
    // Insert in order: after the last element that is not after this one.
    const items = Array.from(this.log.querySelectorAll("li.msg"));
    let before = null;
    for (let i = items.length - 1; i >= 0; i -= 1) {
      const other = this.messages.get(items[i].dataset.messageId);
      if (other && this.#before(message, other)) before = items[i];
      else break;
    }
    this.log.insertBefore(item, before);
  }

  #emptyNote() {
    const note = this.log.querySelector(".empty-log");
    if (this.messages.size === 0 && !note) {
      this.log.append(h("li", { class: "empty-log" }, this.loaded ? "No messages yet." : "Loading messages…"));
    } else if (note && (this.messages.size > 0)) {
      note.remove();
    } else if (note) {
      note.textContent = this.loaded ? "No messages yet." : "Loading messages…";
    }
  }

  #scrollToEnd() {
    requestAnimationFrame(() => {
      this.log.scrollTop = this.log.scrollHeight;
    });
  }

  async loadMessages() {
    const data = await this.ctx.api.messages(this.id);
    this.merge((data && data.messages) || []);
  }

  // ------------------------------------------------------------------ reply
  #updateCounter() {
    this.counter.textContent = counterText(this.reply.value);
    this.counter.classList.toggle("multi", segmentInfo(this.reply.value).segments > 1);
  }

  insert(text) {
    const box = this.reply;
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    const before = box.value.slice(0, start);
    const after = box.value.slice(end);
    const spacer = before && !/\s$/.test(before) ? " " : "";
    box.value = `${before}${spacer}${text}${after}`;
    const caret = before.length + spacer.length + text.length;
    box.focus();
    box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event("input"));
  }

  #insertCanned() {
    const entry = (this.ctx.library()?.canned_responses || []).find((item) => item.id === this.canned.value);
    this.canned.value = "";
    if (entry) this.insert(entry.text);
  }

  async #send() {
    const body = this.reply.value.trim();
    if (!body || this.sending) return;
    this.sending = true;
    this.sendButton.disabled = true;
    clear(this.error);
    try {
      const message = await this.ctx.guard(this.ctx.api.send(this.id, body));
      if (this.reply.value.trim() === body) this.reply.value = "";
      drafts.set(this.ctx.owner, this.id, this.reply.value);
      this.#updateCounter();
      if (message && message.id) this.merge([message], { fromLive: true });
    } catch (error) {
      if (error.status !== 401) fill(this.error, `Not sent: ${error.message}`);
    } finally {
      this.sending = false;
      this.sendButton.disabled = false;
    }
  }

  renderLibrary() {
    const library = this.ctx.library();
    const canned = (library && library.canned_responses) || [];
    const resources = (library && library.resources) || [];
    const previous = this.canned.value;
    fill(this.canned,
      h("option", { value: "" }, canned.length ? "Choose one to insert…" : "None yet"),
      canned.map((entry) => h("option", { value: entry.id }, entry.title)));
    this.canned.value = previous && canned.some((e) => e.id === previous) ? previous : "";
    this.cannedField.hidden = !library;
    fill(this.resources, resources.map((entry) => {
      const titleId = uid("resource");
      return h("li", {},
        h("span", { class: "title", id: titleId }, entry.title),
        h("span", { class: "text" }, entry.text),
        h("button", { type: "button", "aria-describedby": titleId, onclick: () => this.insert(entry.text) }, "Insert"));
    }));
    this.resourcesBlock.hidden = !library || resources.length === 0;
    this.tools.hidden = !library;
  }

  // ------------------------------------------------------------------ actions
  async #escalate() {
    clear(this.error);
    const button = this.riskButton || this.escalateAction;
    button.disabled = true;
    try {
      const escalation = await this.ctx.guard(this.ctx.api.escalate(this.id));
      this.escalationNote = escalation && escalation.code
        ? `Escalated: on-call has been paged (code ${escalation.code}).`
        : "Escalated: on-call has been paged.";
      this.summary = { ...this.summary, escalation_id: escalation ? escalation.id : this.summary.escalation_id };
      if (!RISK_LEVELS.includes(this.summary.risk_level)) this.summary.risk_level = escalation?.level || "high";
      this.update(this.summary);
      this.ctx.onChanged();
      (this.riskButton || this.escalateAction).focus();
    } catch (error) {
      if (error.status !== 401) fill(this.error, `Not escalated: ${error.message}`);
      button.disabled = false;
    }
  }

  async #transfer() {
    clear(this.transferError);
    let to = "queue";
    if (this.transferPerson.checked) {
      to = this.transferVolunteer.value.trim();
      if (!to) {
        fill(this.transferError, "Enter the volunteer's ID, or choose the queue.");
        this.transferVolunteer.focus();
        return;
      }
    }
    try {
      await this.ctx.guard(this.ctx.api.transfer(this.id, to));
      drafts.set(this.ctx.owner, this.id, "");
      this.ctx.onGone(this, `Conversation with ${this.alias} transferred ${to === "queue" ? "to the queue" : "to the volunteer"}.`);
    } catch (error) {
      if (error.status !== 401) fill(this.transferError, `Not transferred: ${error.message}`);
    }
  }

  async #close() {
    clear(this.closeError);
    const outcome = this.outcome.value;
    if (!outcome) {
      fill(this.closeError, "Choose an outcome.");
      this.outcome.focus();
      return;
    }
    const tags = this.tags.value.split(",").map((tag) => tag.trim()).filter(Boolean);
    try {
      await this.ctx.guard(this.ctx.api.close(this.id, outcome, tags));
      drafts.set(this.ctx.owner, this.id, "");
      this.ctx.onGone(this, `Conversation with ${this.alias} closed (${outcome}).`);
    } catch (error) {
      if (error.status !== 401) fill(this.closeError, `Not closed: ${error.message}`);
    }
  }

  destroy() {
    this.tab.remove();
    this.panel.remove();
  }
}
