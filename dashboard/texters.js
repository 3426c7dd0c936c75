// A supervisor's controls for one texter, by the alias the dashboard shows ("Texter 4F2A"), never by number:
// Block (a reason and a duration; the block lapses by itself, and an open conversation closes at once), Lift block,
// and Erase (as the texter's own DELETE would; asked twice). The API audits each with the supervisor's id.

import { h, fill, clear } from "./dom.js";

const DURATIONS = [[1, "1 hour"], [24, "1 day"], [168, "1 week"], [720, "30 days (the longest)"]];
const ALIAS = /^(?:texter\s+)?([0-9a-f]{4})$/i;

export class TexterControlsView {
  constructor({ api, body, guard }) {
    this.api = api;
    this.guard = guard;
    this.armed = null; // the alias an Erase is waiting to be confirmed for
    this.alias = h("input", {
      id: "texter-alias", type: "text", autocomplete: "off", spellcheck: "false", maxlength: "11",
      placeholder: "Texter 4F2A", oninput: () => this.#disarm(),
    });
    this.reason = h("input", { id: "texter-reason", type: "text", maxlength: "400", autocomplete: "off" });
    this.hours = h("select", { id: "texter-hours" },
      DURATIONS.map(([hours, label]) => h("option", { value: String(hours) }, label)));
    this.error = h("div", { class: "error", role: "alert" });
    this.status = h("p", { class: "line-status", role: "status" });
    this.confirm = h("button", {
      type: "button", class: "danger", hidden: true, onclick: (event) => this.#erase(event.currentTarget),
    }, "Yes, erase");
    fill(body,
      h("p", { class: "muted" }, "Block keeps a texter's texts from volunteers for a while (a crisis text still pages "
        + "on-call); Erase removes what the line keeps about them. Both are recorded with your name and reason."),
      h("form", { class: "subform texter-form", onsubmit: (event) => event.preventDefault() },
        h("label", { for: "texter-alias" }, "Texter alias"), this.alias,
        h("label", { for: "texter-reason" }, "Why (kept in the audit log)"), this.reason,
        h("label", { for: "texter-hours" }, "Block for"), this.hours,
        h("div", { class: "buttons" },
          h("button", { type: "button", class: "primary", onclick: (event) => this.#block(event.currentTarget) },
            "Block texter"),
          h("button", { type: "button", onclick: (event) => this.#unblock(event.currentTarget) }, "Lift block"),
          h("button", { type: "button", class: "danger", onclick: () => this.#arm() }, "Erase texter"),
          this.confirm)),
      this.error, this.status);
  }

  /** "Texter 4F2A" or "4f2a" → "4F2A"; null (and says why) for anything else. */
  #code() {
    const match = ALIAS.exec(this.alias.value.trim());
    if (!match) {
      fill(this.error, "Type the alias the dashboard shows, e.g. Texter 4F2A.");
      this.alias.focus();
      return null;
    }
    return match[1].toUpperCase();
  }

  async #act(button, what, call, done) {
    clear(this.error);
    this.status.textContent = "";
    button.disabled = true;
    try {
      const result = await this.guard(call());
      this.status.textContent = done(result);
    } catch (error) {
      if (error.status !== 401) fill(this.error, `Not ${what}: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  async #block(button) {
    this.#disarm();
    const code = this.#code();
    if (!code) return;
    const reason = this.reason.value.trim();
    if (reason.length < 3) {
      fill(this.error, "Say why (at least 3 characters): it is recorded.");
      this.reason.focus();
      return;
    }
    const hours = Number(this.hours.value);
    await this.#act(button, "blocked", () => this.api.blockTexter(code, reason, hours),
      (block) => `Texter ${code} is blocked until ${new Date(block.blocked_until).toLocaleString()}.`);
  }

  async #unblock(button) {
    this.#disarm();
    const code = this.#code();
    if (!code) return;
    await this.#act(button, "unblocked", () => this.api.unblockTexter(code, this.reason.value.trim()),
      () => `Texter ${code} is no longer blocked.`);
  }

  #arm() {
    clear(this.error);
    const code = this.#code();
    if (!code) return;
    if (this.reason.value.trim().length < 3) {
      fill(this.error, "Say why (at least 3 characters): it is recorded.");
      this.reason.focus();
      return;
    }
    this.armed = code;
    this.confirm.textContent = `Yes, erase Texter ${code}`;
    this.confirm.hidden = false;
    this.status.textContent = `Erase Texter ${code}? Their record, open conversation and links in escalations go, `
      + "and they are texted that it was done. This can't be undone.";
    this.confirm.focus();
  }

  #disarm() {
    this.armed = null;
    this.confirm.hidden = true;
  }

  async #erase(button) {
    const code = this.armed;
    if (!code) return;
    this.#disarm();
    const reason = this.reason.value.trim();
    await this.#act(button, "erased", () => this.api.eraseTexter(code, reason), () => `Texter ${code} was erased.`);
  }
}
