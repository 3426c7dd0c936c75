// One conversation: its tab (alias, waiting time, level badge, unread marker) and its tabpanel (risk banner,
// transcript log merged by message id, reply box with segment counter, canned responses, resources, escalate,
// transfer, close with wrap-up). Only aliases are ever shown — never a number.

import { h, fill, clear, uid, duration, secondsSince, hourMinute } from "./dom.js";
import { counterText, segmentInfo } from "./sms.js";
import { drafts } from "./drafts.js";

export const RISK_LEVELS = ["concern", "high", "imminent"];
export const MAX_TAGS = 10; // the API refuses more (CloseRequest.tags)
export const MAX_REPLY = 1600; // the API refuses longer replies (SendMessageRequest.body)

/** What the line's own texts are, in words (MessageOut.purpose). */
const PURPOSES = {
  welcome: "welcome text",
  consent: "consent question",
  joined: "\u201cyou're now texting with\u2026\u201d",
  safety: "safety text",
  still_waiting: "still-waiting text",
  closing: "closing text",
  inactivity: "inactivity text",
};

/** "self-harm" → "self-harm", "suicidal_thoughts" → "suicidal thoughts": a list's choice as shown. */
function label(choice) {
  return String(choice).replace(/_/g, " ");
}

export function purposeLabel(purpose) {
  if (!purpose) return "";
  return PURPOSES[purpose] || String(purpose).replace(/_/g, " ");
}

/** "Risk: high" / "No risk flagged" — the level in words, the colour only on top. */
export function riskText(level) {
  return RISK_LEVELS.includes(level) ? `Risk: ${level}` : "No risk flagged";
}

/** "Escalation open: on-call paged at 21:04 (page 2)" or "Acknowledged by Sam at 21:06". */
export function escalationText(escalation) {
  if (!escalation) return "";
  if (escalation.status === "acknowledged") {
    const at = hourMinute(escalation.acknowledged_at);
    return `Acknowledged by ${escalation.acknowledged_by || "a supervisor"}${at ? ` at ${at}` : ""}`;
  }
  const pagedAt = hourMinute(escalation.last_paged_at || escalation.created_at);
  const count = escalation.page_count ?? 0;
  if (!escalation.last_paged_at && !count) return "Escalation open: on-call not paged yet";
  return `Escalation open: on-call paged at ${pagedAt} (page ${Math.max(1, count)})`;
}

function characters(text) {
  return Array.from(text).length;
}

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
    // Where the earlier part of the transcript starts (listMessages' next_cursor); null: all of it is here.
    this.earlierCursor = null;
    this.pagedBack = false;
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
    this.earlierButton = h("button", {
      type: "button", class: "earlier", hidden: true, onclick: () => this.#loadEarlier(),
    }, "Earlier messages");

    const replyId = uid("reply");
    const counterId = uid("counter");
    const replyErrorId = uid("reply-error");
    this.replyError = h("div", { id: replyErrorId, class: "error", role: "alert" });
    this.reply = h("textarea", {
      id: replyId, name: "reply", rows: "3", "aria-describedby": `${counterId} ${replyErrorId}`,
      placeholder: "Type a reply — Enter sends, Shift+Enter adds a line",
    });
    this.reply.value = drafts.get(owner, this.id);
    this.counter = h("span", { id: counterId, class: "counter" });
    this.sendButton = h("button", { type: "submit", class: "primary" }, "Send");
    this.reply.addEventListener("input", () => {
      drafts.set(this.ctx.owner, this.id, this.reply.value);
      this.#updateCounter();
      // A "not sent: too long / empty" error goes as soon as the box no longer has that problem.
      if (this.replyProblem && this.replyProblem !== this.#replyProblem()) {
        this.replyProblem = null;
        clear(this.replyError);
      }
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
      h("div", { class: "reply-row" }, this.counter, this.sendButton),
      this.replyError);

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
      h("div", { class: "talk" }, this.earlierButton, this.log, this.replyForm,
        h("div", { class: "actions" }, this.escalateAction, this.transferButton, this.closeButton),
        this.transferForm, this.closeForm),
      this.tools));
    this.#updateCounter();
    this.renderLibrary();
  }

  #buildTransferForm() {
    this.transferName = uid("transfer-to");
    this.transferQueue = h("input", { type: "radio", name: this.transferName, value: "queue", checked: true });
    // Volunteers who could take it (listTransferCandidates), filled each time the form opens: no raw ids to type.
    this.transferCandidates = h("div", { class: "candidates" });
    this.transferStatus = h("p", { class: "hint", role: "status" });
    this.transferError = h("div", { class: "error", role: "alert" });
    return h("form", {
      class: "subform", id: uid("transfer-form"), hidden: true, "aria-label": "Transfer this conversation",
      onsubmit: (event) => { event.preventDefault(); this.#transfer(); },
    },
    h("fieldset", {},
      h("legend", {}, "Transfer to"),
      h("div", { class: "radio-list" },
        h("label", {}, this.transferQueue, " Back to the queue (next available volunteer)"),
        this.transferCandidates),
      this.transferStatus),
    this.transferError,
    h("div", { class: "buttons" },
      h("button", { type: "submit", class: "primary" }, "Hand over"),
      h("button", { type: "button", onclick: () => this.#toggle(null) }, "Cancel")));
  }

  async #loadCandidates() {
    clear(this.transferCandidates);
    this.transferQueue.checked = true;
    this.transferStatus.textContent = "Looking for volunteers who could take it…";
    try {
      const data = await this.ctx.guard(this.ctx.api.transferCandidates(this.id));
      const volunteers = (data && data.volunteers) || [];
      fill(this.transferCandidates, volunteers.map((v) => {
        const languages = (v.languages || []).join(", ");
        return h("label", {},
          h("input", { type: "radio", name: this.transferName, value: v.volunteer_id,
            dataset: { displayName: v.display_name } }),
          ` ${v.display_name}`,
          h("span", { class: "muted" }, ` — ${v.load ?? 0} of ${v.max_concurrent ?? "?"} conversations`,
            languages ? ` · ${languages}` : ""));
      }));
      this.transferStatus.textContent = volunteers.length
        ? `${volunteers.length} volunteer${volunteers.length === 1 ? "" : "s"} could take it now.`
        : "No other volunteer can take it right now: available, eligible and under their cap. The queue still can.";
    } catch (error) {
      if (error.status === 404) this.transferStatus.textContent = "Only the queue is possible on this line.";
      else if (error.status !== 401) this.transferStatus.textContent = `The volunteer list is unavailable: ${error.message}`;
    }
  }

  #buildCloseForm() {
    const outcomeId = uid("outcome");
    const tagsHint = uid("tags-hint");
    // Outcome and tags come from the line's lists (config.json): no free text reaches the kept metadata.
    const { outcomes = [], tags = [] } = this.ctx.wrapUp || {};
    this.outcome = h("select", { id: outcomeId, required: true },
      h("option", { value: "" }, "Choose an outcome…"),
      outcomes.map((outcome) => h("option", { value: outcome }, label(outcome))));
    this.tagBoxes = tags.map((tag) => h("input", { type: "checkbox", name: "tag", value: tag }));
    this.tags = h("fieldset", { class: "tags", "aria-describedby": tagsHint },
      h("legend", {}, "Tags"),
      h("div", { class: "tag-list" }, this.tagBoxes.map((box) => h("label", {}, box, ` ${label(box.value)}`))),
      h("p", { id: tagsHint, class: "hint" }, `Up to ${MAX_TAGS}, optional`));
    this.closeError = h("div", { class: "error", role: "alert" });
    return h("form", {
      class: "subform", id: uid("close-form"), hidden: true, "aria-label": "Wrap-up",
      onsubmit: (event) => { event.preventDefault(); this.#close(); },
    },
    h("p", {}, "Wrap-up: the texter gets a closing text and the transcript is deleted."),
    h("div", { class: "field" }, h("label", { for: outcomeId }, "Outcome"), this.outcome),
    this.tags,
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
    if (showTransfer) {
      clear(this.transferError);
      this.transferQueue.focus();
      this.#loadCandidates();
    }
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

  /**
   * The time in the tab: since the texter's last text (what a volunteer weighs), or since accepting when they
   * have not texted since — never a "waiting 0 s" that resets on every poll.
   */
  tick(now = Date.now()) {
    const inbound = this.#lastMessage((m) => m.direction === "inbound");
    const lastTexterAt = inbound ? inbound.at : this.summary.last_texter_at;
    let text = "";
    const sinceText = secondsSince(lastTexterAt, now);
    if (sinceText !== null) {
      text = `last text ${duration(sinceText)} ago`;
    } else {
      const sinceAccepted = secondsSince(this.summary.accepted_at, now);
      if (sinceAccepted !== null) text = `accepted ${duration(sinceAccepted)} ago`;
    }
    if (this.tabWait.textContent !== text) this.tabWait.textContent = text;
  }

  #lastMessage(filter = () => true) {
    let last = null;
    for (const message of this.messages.values()) {
      if (filter(message) && (!last || this.#before(last, message))) last = message;
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
      this.summary.escalation_id, this.summary.escalation, this.escalationNote]);
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
    const escalation = this.summary.escalation;
    let status = "";
    if (escalation) status = escalationText(escalation);
    else if (this.summary.escalation_id) status = "Escalation open: on-call was paged.";
    const text = h("div", { class: "risk-text" },
      h("p", { class: "risk-title" }, `Risk level: ${level}`, categories ? ` — ${categories}` : ""),
      this.summary.volunteer_prompt ? h("p", { class: "prompt" }, this.summary.volunteer_prompt) : null,
      status ? h("p", { class: "risk-status", "data-escalation-status": "" }, status) : null,
      this.escalationNote ? h("p", { class: "risk-note", "data-escalate-result": "" }, this.escalationNote) : null);
    const keepFocus = this.riskButton && document.activeElement === this.riskButton;
    this.riskButton = h("button", { type: "button", onclick: () => this.#escalate() }, "Escalate");
    fill(this.risk, text, this.riskButton);
    if (keepFocus) this.riskButton.focus();
  }

  /** A live `escalation` event (or an escalate answer) for this conversation: one state everywhere. */
  applyEscalation(escalation) {
    if (!escalation) return;
    const known = this.summary.escalation;
    if (known && known.id === escalation.id && known.status === "acknowledged" && escalation.status === "open") return;
    // The answer to an earlier Escalate press ("…paged again until someone acknowledges") is stale once the state
    // moves on: the status line above it says what is true now.
    if (known && known.id === escalation.id && known.status !== escalation.status) this.escalationNote = null;
    this.summary = {
      ...this.summary,
      escalation_id: escalation.id || this.summary.escalation_id,
      escalation: {
        id: escalation.id, code: escalation.code, status: escalation.status, created_at: escalation.created_at,
        page_count: escalation.page_count, last_paged_at: escalation.last_paged_at,
        acknowledged_by: escalation.acknowledged_by ?? null, acknowledged_at: escalation.acknowledged_at ?? null,
      },
    };
    if (!RISK_LEVELS.includes(this.summary.risk_level)) this.summary.risk_level = escalation.level || "high";
    this.update(this.summary);
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
  merge(messages, { fromLive = false, earlier = false } = {}) {
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
    if (added && inbound && this.loaded && !earlier && (!this.selected || document.hidden)) this.setUnread(true);
    if (added && !earlier) {
      this.tick();
      this.#scrollToEnd();
    }
    if (!fromLive) this.loaded = true;
    this.#emptyNote();
    return added;
  }

  #place(message) {
    const existing = this.log.querySelector(`[data-message-id="${CSS.escape(message.id)}"]`);
    const automatic = message.direction === "automatic";
    const purpose = purposeLabel(message.purpose);
    // A reply a colleague wrote before a transfer is theirs, not "You".
    const mine = !message.volunteer_id || message.volunteer_id === this.ctx.me?.()?.volunteer_id;
    const author = mine ? "You" : "Another volunteer";
    const who = message.direction === "inbound" ? this.alias
      : automatic ? `Peerline (automatic)${purpose ? `, ${purpose}` : ""}` : author;
    const item = h("li", {
      class: `msg ${message.direction}`,
      dataset: { messageId: message.id, direction: message.direction, at: message.at, purpose: message.purpose || "" },
    },
    automatic ? h("span", { class: "auto-label" }, "Automatic", purpose ? ` · ${purpose}` : "")
      : h("span", { class: "sr-only" }, `${who}: `),
    h("span", { class: "body" }, message.body),
    h("span", { class: "meta" },
      message.direction === "inbound" ? `${this.alias} · ` : automatic ? "Peerline (automatic) · " : `${author} · `,
      h("time", { datetime: message.at }, hourMinute(message.at))));
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

  /** The newest page of the transcript (again after a reconnect: merged by id). */
  async loadMessages() {
    const data = await this.ctx.api.messages(this.id);
    // Once the volunteer has read back, the button stays where they got to, not at the newest page's start.
    if (!this.pagedBack) this.#showEarlier(data && data.next_cursor);
    this.merge((data && data.messages) || []);
  }

  /** "Earlier messages": the page before the earliest one shown. */
  async #loadEarlier() {
    if (!this.earlierCursor) return;
    this.earlierButton.disabled = true;
    try {
      const data = await this.ctx.guard(this.ctx.api.messages(this.id, this.earlierCursor));
      this.pagedBack = true;
      this.#showEarlier(data && data.next_cursor);
      this.merge((data && data.messages) || [], { earlier: true });
      if (this.earlierButton.hidden) this.log.focus();
    } catch (error) {
      if (error.status !== 401) fill(this.error, `Earlier messages are unavailable: ${error.message}`);
    } finally {
      this.earlierButton.disabled = false;
    }
  }

  #showEarlier(cursor) {
    this.earlierCursor = cursor || null;
    this.earlierButton.hidden = !this.earlierCursor;
  }

  // ------------------------------------------------------------------ reply
  #updateCounter() {
    const length = characters(this.reply.value.trim());
    const over = length > MAX_REPLY;
    this.counter.textContent = over
      ? `Too long: ${length.toLocaleString("en")} of at most ${MAX_REPLY.toLocaleString("en")} characters — `
        + `shorten it by ${(length - MAX_REPLY).toLocaleString("en")} to send`
      : counterText(this.reply.value);
    this.counter.classList.toggle("multi", !over && segmentInfo(this.reply.value).segments > 1);
    this.counter.classList.toggle("over", over);
    if (over) this.reply.setAttribute("aria-invalid", "true");
    else this.reply.removeAttribute("aria-invalid");
  }

  /** "empty", "too-long" or null: why the reply can't be sent as it is. */
  #replyProblem() {
    const body = this.reply.value.trim();
    if (!body) return "empty";
    if (characters(body) > MAX_REPLY) return "too-long";
    return null;
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
    if (this.sending) return;
    const body = this.reply.value.trim();
    const problem = this.#replyProblem();
    if (problem) {
      this.replyProblem = problem;
      fill(this.replyError, problem === "empty"
        ? "Nothing was sent: the reply is empty. Type a reply first."
        : `Not sent: the reply is ${characters(body).toLocaleString("en")} characters; a reply can be at most `
          + `${MAX_REPLY.toLocaleString("en")}. Shorten it or split it into two replies.`);
      this.reply.focus();
      return;
    }
    this.replyProblem = null;
    this.sending = true;
    this.sendButton.disabled = true;
    clear(this.replyError);
    try {
      const message = await this.ctx.guard(this.ctx.api.send(this.id, body));
      if (this.reply.value.trim() === body) this.reply.value = "";
      drafts.set(this.ctx.owner, this.id, this.reply.value);
      this.#updateCounter();
      if (message && message.id) this.merge([message], { fromLive: true });
    } catch (error) {
      if (error.status !== 401) fill(this.replyError, `Not sent: ${error.message}`);
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
      // Say what the line says really happened: paged now, already open, or already acknowledged.
      const outcomes = {
        paged: "Escalated: on-call has been paged",
        already_open: "Already escalated: on-call was paged before and has not acknowledged yet",
        already_acknowledged: "Already escalated and acknowledged",
      };
      let note = (escalation && escalation.message) || (escalation && outcomes[escalation.outcome]) || "Escalation sent";
      if (escalation && escalation.code && !note.includes(escalation.code)) note += ` (code ${escalation.code})`;
      this.escalationNote = /[.!?]$/.test(note) ? note : `${note}.`;
      if (escalation && escalation.id) this.applyEscalation(escalation);
      else this.update(this.summary);
      this.ctx.onChanged();
      (this.riskButton || this.escalateAction).focus();
    } catch (error) {
      if (error.status !== 401) fill(this.error, `Not escalated: ${error.message}`);
      button.disabled = false;
    }
  }

  async #transfer() {
    clear(this.transferError);
    const chosen = this.transferForm.querySelector(`input[name="${this.transferName}"]:checked`);
    const to = chosen ? chosen.value : "queue";
    const name = chosen && chosen.dataset.displayName;
    this.goingAway = true;
    try {
      await this.ctx.guard(this.ctx.api.transfer(this.id, to));
      drafts.set(this.ctx.owner, this.id, "");
      this.ctx.onGone(this, `Conversation with ${this.alias} transferred ${to === "queue" ? "back to the queue" : `to ${name}`}.`);
    } catch (error) {
      this.goingAway = false;
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
    const tags = this.tagBoxes.filter((box) => box.checked).map((box) => box.value);
    if (tags.length > MAX_TAGS) {
      fill(this.closeError, `Choose at most ${MAX_TAGS} tags (${tags.length} chosen).`);
      this.tagBoxes.find((box) => box.checked)?.focus();
      return;
    }
    this.goingAway = true; // our own close: the live "closed" event must not add a second notice
    try {
      await this.ctx.guard(this.ctx.api.close(this.id, outcome, tags));
      drafts.set(this.ctx.owner, this.id, "");
      this.ctx.onGone(this, `Conversation with ${this.alias} closed (${outcome}).`);
    } catch (error) {
      this.goingAway = false;
      if (error.status !== 401) fill(this.closeError, `Not closed: ${error.message}`);
    }
  }

  destroy() {
    this.tab.remove();
    this.panel.remove();
  }
}
