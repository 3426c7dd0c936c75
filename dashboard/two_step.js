// Two-step sign-in (TOTP from an authenticator app): the code step at sign-in, and setting it up. Supervisors — who
// can reveal a texter's number — must have it: the API refuses their supervisor operations until they do.
// The secret is shown as text (and an otpauth:// link for apps on this device), never stored, and gone with the step.

import { h, fill } from "./dom.js";

const CODE = { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6", required: true };

/** "ABCD EFGH …": easier to type into an app by hand. */
function grouped(secret) {
  return secret.replace(/(.{4})/g, "$1 ").trim();
}

function otpauthUri(secret, username) {
  const label = encodeURIComponent(`Peerline:${username}`);
  return `otpauth://totp/${label}?secret=${encodeURIComponent(secret)}&issuer=Peerline`;
}

/** A 6-digit code field and a button; submit(code) resolves or throws an Error whose message is shown. */
function codeForm({ id, label, button, submit, showError }) {
  const input = h("input", { id, name: "code", ...CODE, "aria-describedby": `${id}-hint` });
  const go = h("button", { type: "submit", class: "primary" }, button);
  const form = h("form", { novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const code = input.value.replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(code)) {
      showError("Enter the 6-digit code your authenticator app shows.");
      input.focus();
      return;
    }
    go.disabled = true;
    try {
      await submit(code);
    } catch (error) {
      showError(error.message);
      input.select();
      input.focus();
    } finally {
      go.disabled = false;
    }
  } },
  h("div", { class: "field" },
    h("label", { for: id }, label), input,
    h("p", { id: `${id}-hint`, class: "hint" }, "6 digits, from your authenticator app; it changes every 30 seconds.")),
  go);
  return { form, input };
}

/** The sign-in code step (Cognito's SOFTWARE_TOKEN_MFA challenge). */
export function showTotpCode(slot, { submit, showError }) {
  const { form, input } = codeForm({
    id: "totp-code", label: "Code from your authenticator app", button: "Verify", submit, showError });
  fill(slot, h("p", {}, "Two-step sign-in: enter the code for Peerline from your authenticator app."), form);
  input.focus();
}

/**
 * Setting TOTP up: `secret` is the new secret (AssociateSoftwareToken), `verify(code)` turns it on. `cancel`, when
 * given, is offered as a way out (signing out).
 */
export function showTotpSetup(slot, { secret, username, verify, showError, cancel }) {
  const { form, input } = codeForm({
    id: "totp-setup-code", label: "Code from your authenticator app", button: "Turn on two-step sign-in",
    submit: verify, showError });
  fill(slot,
    h("h3", { id: "totp-setup-heading" }, "Set up two-step sign-in"),
    h("p", {}, "Supervisors can reveal a texter's number, so a password alone isn't enough. Add Peerline to an "
      + "authenticator app (any TOTP app), then enter the code it shows. You'll be asked for a code at every sign-in."),
    h("p", {}, "Key to enter in the app (time-based):"),
    h("p", { class: "secret", id: "totp-secret", "aria-label": "Key for your authenticator app" },
      h("code", {}, grouped(secret))),
    h("p", {}, h("a", { href: otpauthUri(secret, username) }, "Open in an authenticator app on this device")),
    form,
    cancel ? h("button", { type: "button", onclick: cancel }, "Sign out") : null);
  input.focus();
}
