// The library (GET/PUT /volunteer/library): canned responses and resources. Everyone reads it;
// supervisors edit it in "Manage library".

import { h, fill, clear, uid } from "./dom.js";

const KINDS = [
  ["canned_responses", "Canned responses", "canned response"],
  ["resources", "Resources", "resource"],
];

function slug(title, taken) {
  const base = (title || "entry").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 32) || "entry";
  let id = base;
  for (let n = 2; taken.has(id); n += 1) id = `${base}-${n}`;
  taken.add(id);
  return id;
}

export class LibraryEditor {
  constructor({ api, section, body, guard, onSaved }) {
    this.api = api;
    this.section = section;
    this.body = body;
    this.guard = guard;
    this.onSaved = onSaved;
    this.draft = null;
  }

  show(library) {
    this.draft = {
      canned_responses: (library.canned_responses || []).map((e) => ({ ...e })),
      resources: (library.resources || []).map((e) => ({ ...e })),
    };
    this.section.hidden = false;
    this.render();
  }

  render(focusSelector) {
    this.error = h("div", { class: "error", role: "alert" });
    this.status = h("p", { role: "status", class: "muted" });
    const groups = KINDS.map(([kind, heading, noun]) => {
      const entries = this.draft[kind];
      return h("fieldset", {},
        h("legend", {}, heading),
        h("div", { class: "library-entries" }, entries.map((entry, index) => {
          const titleId = uid("lib-title");
          const textId = uid("lib-text");
          const n = index + 1;
          return h("div", { class: "library-entry" },
            h("div", { class: "field" },
              h("label", { for: titleId }, `Title of ${noun} ${n}`),
              h("input", { id: titleId, type: "text", value: entry.title, maxlength: "80",
                dataset: { kind, index: String(index), part: "title" },
                oninput: (event) => { entry.title = event.target.value; } })),
            h("div", { class: "field" },
              h("label", { for: textId }, `Text of ${noun} ${n}`),
              h("textarea", { id: textId, rows: "2", maxlength: "1000", value: entry.text,
                oninput: (event) => { entry.text = event.target.value; } })),
            h("button", { type: "button", onclick: () => {
              entries.splice(index, 1);
              this.render(`[data-add="${kind}"]`);
            } }, `Remove ${noun} ${n}`));
        })),
        h("button", { type: "button", dataset: { add: kind }, onclick: () => {
          entries.push({ id: "", title: "", text: "" });
          this.render(`[data-kind="${kind}"][data-index="${entries.length - 1}"]`);
        } }, `Add ${noun}`));
    });
    const save = h("button", { type: "submit", class: "primary" }, "Save library");
    fill(this.body, h("form", { onsubmit: (event) => { event.preventDefault(); this.#save(save); } },
      groups, this.error, this.status, save));
    if (focusSelector) this.body.querySelector(focusSelector)?.focus();
  }

  async #save(button) {
    clear(this.error);
    const taken = new Set();
    const library = {};
    for (const [kind, heading] of KINDS) {
      const entries = this.draft[kind].map((e) => ({ ...e, title: e.title.trim(), text: e.text.trim() }));
      const incomplete = entries.findIndex((e) => !e.title || !e.text);
      if (incomplete >= 0) {
        fill(this.error, `${heading} ${incomplete + 1} needs a title and a text.`);
        return;
      }
      for (const e of entries) if (e.id && /^[a-z0-9-]{1,40}$/.test(e.id) && !taken.has(e.id)) taken.add(e.id);
        else e.id = "";
      library[kind] = entries;
    }
    for (const [kind] of KINDS) for (const e of library[kind]) if (!e.id) e.id = slug(e.title, taken);
    button.disabled = true;
    try {
      const saved = await this.guard(this.api.updateLibrary(library));
      this.onSaved(saved || library);
      this.show(saved || library);
      this.status.textContent = "Library saved.";
    } catch (error) {
      if (error.status !== 401) fill(this.error, `Not saved: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }
}
