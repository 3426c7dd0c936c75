// Peerline volunteer dashboard — plain ES modules, no framework, no build step.
//   config.js  runtime config (/config.json)      auth.js  Cognito sign-in, refresh, sign-out
//   api.js     the volunteer API with the token    live.js  WebSocket live channel with reconnect
//   conversation.js  a conversation's tab + panel  supervisor.js  the line at a glance, reveal
//   library.js canned responses/resources editor   drafts.js, sms.js, dom.js  small helpers

import { loadConfig } from "./config.js";
import { CognitoAuth } from "./auth.js";
import { Api, SessionLost } from "./api.js";
import { LiveChannel } from "./live.js";
import { ConversationView, levelBadge, riskText } from "./conversation.js";
import { LineView } from "./supervisor.js";
import { TexterControlsView } from "./texters.js";
import { LibraryEditor } from "./library.js";
import { showTotpCode, showTotpSetup } from "./two_step.js";
import { drafts } from "./drafts.js";
import { h, fill, clear, duration, secondsSince } from "./dom.js";

const POLL_CONVERSATIONS_MS = 4000; // the fallback for offers even while the socket is up
const POLL_MESSAGES_MS = 3000; // only while the socket is down (or there is none)
const POLL_LINE_MS = 5000;

const state = {
  config: null,
  auth: null,
  api: null,
  live: null,
  me: null,
  owner: null, // the signed-in user's sub: drafts and views belong to them
  views: new Map(),
  order: [],
  selected: null,
  offer: null,
  offerSeen: new Set(),
  library: null,
  libraryAvailable: true,
  lineView: null,
  libraryEditor: null,
  texterControls: null,
  timers: [],
  localChange: 0,
  refreshing: null,
  pendingChallenge: null,
  closedAliases: new Set(),
  offerCount: 0,
};

/** close_reason in words: why a conversation ended without this page closing it. */
const CLOSE_REASONS = {
  opted_out: "the texter texted STOP",
  stop: "the texter texted STOP",
  inactivity: "nobody texted for a long while (closed for inactivity)",
  wrap_up: "it was closed with a wrap-up (perhaps by you in another tab or window)",
  transfer: "it was transferred",
  erased: "the texter asked the line to erase what it keeps about them (DELETE)",
  blocked: "the texter is blocked by a supervisor",
};

function reasonText(reason) {
  if (!reason) return "it ended or moved on elsewhere";
  return CLOSE_REASONS[reason] || String(reason).replace(/_/g, " ");
}

/**
 * A conversation that went away without this page doing it: which texter, why, and the draft that was not sent
 * (kept visible and copyable until the volunteer dismisses the notice).
 */
function closedNotice(alias, reason, draft) {
  state.closedAliases.add(alias);
  setTimeout(() => state.closedAliases.delete(alias), 120000);
  const item = h("div", { class: "closed-notice", dataset: { alias } });
  const lines = [h("p", {}, h("strong", {}, `Conversation with ${alias} closed`), `: ${reasonText(reason)}.`)];
  if (draft && draft.trim()) {
    const id = `unsent-${Math.random().toString(36).slice(2, 9)}`;
    const box = h("textarea", { id, readonly: true, rows: "3", class: "unsent" });
    box.value = draft;
    const copied = h("span", { role: "status", class: "muted" });
    lines.push(
      h("p", {}, "Your unsent reply was ", h("strong", {}, "not sent"), ". Its text is kept here to copy:"),
      h("label", { for: id, class: "sr-only" }, `Unsent reply to ${alias}`), box,
      h("button", { type: "button", onclick: async () => {
        box.select();
        try {
          await navigator.clipboard.writeText(draft);
          copied.textContent = "Copied.";
        } catch {
          copied.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
        }
      } }, `Copy unsent reply to ${alias}`), " ", copied);
  }
  lines.push(h("button", { type: "button", onclick: () => item.remove() }, `Dismiss notice about ${alias}`));
  el.closedNotices.append(item);
  for (const line of lines) item.append(line);
}

const el = {};

// ------------------------------------------------------------------ boot
async function boot() {
  for (const id of ["boot", "boot-error", "signin", "signin-form", "newpw-slot", "signin-error", "signin-note",
    "signin-username", "signin-password", "app", "who-name", "who-roles", "connection", "sound",
    "signout", "app-error", "notices", "offer", "take-next", "take-next-bar", "take-next-status", "tabs", "panels",
    "no-conversations", "supervisor", "line", "line-body", "manage-library", "manage-library-body", "reveal-dialog",
    "reveal-body", "closed-notices", "crisis-offers", "crisis-offers-hint", "favicon", "supervisor-tabs",
    "sup-tab-line", "sup-tab-library", "texter-controls-body"]) {
    el[id.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = document.getElementById(id);
  }
  try {
    state.config = await loadConfig();
  } catch (error) {
    clear(el.boot);
    fill(el.bootError, `The dashboard can't start: ${error.message}`);
    return;
  }
  state.auth = new CognitoAuth(state.config, { onChange: (auth) => { if (!auth.signedIn) sessionLost(); } });
  state.api = new Api(state.config.apiUrl, state.auth);
  wireSignIn();
  wireHeader();
  clear(el.boot);
  if (state.auth.signedIn) {
    state.auth.schedule();
    startApp();
  } else {
    showSignIn();
  }
}

/** Every API call goes through here: a lost session returns to sign-in (drafts kept); a refusal asks whether the
 * account is still what the page shows (see checkAccess). */
async function guard(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof SessionLost) sessionLost();
    else if (error.status === 403) checkAccess();
    throw error;
  }
}

/** The line decides per request who may do what, and closes a dashboard's socket when an operator deactivates or
 * re-roles its volunteer: after a 403 or a closed socket, ask again who this account is now. */
async function checkAccess() {
  if (!state.me || checkAccess.pending) return;
  checkAccess.pending = true;
  try {
    const me = await state.api.me();
    if (state.me && state.me.roles.includes("supervisor") !== me.roles.includes("supervisor")) roleChanged();
  } catch (error) {
    if (error.status === 403) await noLongerVolunteer();
  } finally {
    checkAccess.pending = false;
  }
}

/** Deactivated: nothing of the session stays on screen (transcripts, drafts may quote texters); tokens revoked. */
async function noLongerVolunteer() {
  if (el.app.hidden) return;
  stopLoops();
  drafts.clearAll();
  resetViews();
  state.owner = null;
  state.me = null;
  await state.auth.signOut();
  showSignIn("You have been signed out: this account is no longer an active volunteer. Ask your supervisor.");
}

/** Promoted or demoted: the dashboard starts again in the new role, drafts kept. */
async function roleChanged() {
  stopLoops();
  for (const view of state.views.values()) drafts.set(state.owner, view.id, view.reply.value);
  resetViews();
  await startApp();
  notice("Your role on the line has changed: the dashboard now shows what your new role allows.");
}

function showError(error) {
  if (!error || error.status === 401 || error instanceof SessionLost) return;
  fill(el.appError, error.message || String(error));
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => clear(el.appError), 10000);
}

function notice(text) {
  // A closure already told (with its reason and any unsent draft) is not told again by the line's own notice.
  if ([...state.closedAliases].some((alias) => text.includes(alias))) return;
  el.notices.append(h("p", {}, text));
  while (el.notices.childElementCount > 3) el.notices.firstElementChild.remove();
  setTimeout(() => { if (el.notices.firstElementChild) el.notices.firstElementChild.remove(); }, 15000);
}

// ------------------------------------------------------------------ sign-in
function showSignIn(note = "") {
  el.app.hidden = true;
  el.signin.hidden = false;
  el.signinForm.hidden = false;
  clear(el.newpwSlot);
  el.signinNote.hidden = !note;
  el.signinNote.textContent = note;
  el.signinPassword.value = "";
  document.title = "Sign in — Peerline";
  (el.signinUsername.value ? el.signinPassword : el.signinUsername).focus();
}

function wireSignIn() {
  el.signinForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(el.signinError);
    const username = el.signinUsername.value.trim();
    const password = el.signinPassword.value;
    if (!username || !password) {
      fill(el.signinError, "Enter your username or e-mail and your password.");
      (username ? el.signinPassword : el.signinUsername).focus();
      return;
    }
    const button = el.signinForm.querySelector("button");
    button.disabled = true;
    try {
      const result = await state.auth.signIn(username, password);
      if (result.challenge) {
        el.signinForm.hidden = true;
        el.signinPassword.value = "";
      }
      await afterSignInStep(result);
    } catch (error) {
      fill(el.signinError, error.message);
      el.signinPassword.select();
      el.signinPassword.focus();
    } finally {
      button.disabled = false;
    }
  });

}

/** Cognito's NEW_PASSWORD_REQUIRED step (first sign-in with a temporary password). Built only when needed. */
function showNewPassword() {
  const input = h("input", { id: "newpw-password", name: "new-password", type: "password",
    autocomplete: "new-password", minlength: "12", required: true, "aria-describedby": "newpw-rules" });
  const button = h("button", { type: "submit", class: "primary" }, "Set password");
  const form = h("form", { id: "newpw-form", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    clear(el.signinError);
    const password = input.value;
    if (password.length < 12) {
      fill(el.signinError, "The new password needs at least 12 characters.");
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      await afterSignInStep(await state.auth.completeNewPassword(state.pendingChallenge, password));
    } catch (error) {
      if (/session/i.test(error.message) && /expired|invalid/i.test(error.message)) {
        showSignIn("That step timed out. Sign in again with your temporary password.");
      } else {
        fill(el.signinError, error.message);
        input.focus();
      }
    } finally {
      button.disabled = false;
    }
  } },
  h("p", {}, "This is your first sign-in: choose your own password."),
  h("div", { class: "field" },
    h("label", { for: "newpw-password" }, "New password"), input,
    h("p", { id: "newpw-rules", class: "hint" }, "At least 12 characters, with upper- and lower-case letters and a number.")),
  button);
  fill(el.newpwSlot, form);
  input.focus();
}

/** Signed in, or the next step Cognito asks for: a new password, a two-step code, or setting two-step up. */
async function afterSignInStep(result) {
  clear(el.signinError);
  if (!result.challenge) {
    state.pendingChallenge = null;
    clear(el.newpwSlot);
    startApp();
    return;
  }
  state.pendingChallenge = result;
  const showError = (message) => fill(el.signinError, message);
  // A step that timed out (Cognito's sessions last minutes) starts the sign-in again.
  const orStartAgain = (step) => async (code) => {
    try {
      await afterSignInStep(await step(code));
    } catch (error) {
      if (error.type !== "NotAuthorizedException") throw error;
      showSignIn(error.message);
    }
  };
  if (result.challenge === "NEW_PASSWORD_REQUIRED") {
    showNewPassword();
  } else if (result.challenge === "SOFTWARE_TOKEN_MFA") {
    showTotpCode(el.newpwSlot, { submit: orStartAgain((code) => state.auth.answerTotp(result, code)), showError });
  } else if (result.challenge === "MFA_SETUP") {
    try {
      const secret = await state.auth.associateTotp(result);
      showTotpSetup(el.newpwSlot, { secret, username: result.username, showError,
        verify: orStartAgain((code) => state.auth.verifyTotp(code, result)) });
    } catch (error) {
      showSignIn(error.message);
    }
  }
}

/** A supervisor without two-step sign-in: set it up before anything else (the API refuses their supervisor work). */
async function setUpTwoStep() {
  el.app.hidden = true;
  el.signin.hidden = false;
  el.signinForm.hidden = true;
  el.signinNote.hidden = true;
  document.title = "Set up two-step sign-in — Peerline";
  const showError = (message) => fill(el.signinError, message);
  try {
    const secret = await state.auth.associateTotp();
    showTotpSetup(el.newpwSlot, {
      secret, username: state.auth.claims.username || "", showError, cancel: () => el.signout.click(),
      verify: async (code) => {
        await state.auth.verifyTotp(code);
        clear(el.newpwSlot);
        startApp();
      },
    });
  } catch (error) {
    showError(error.message);
  }
}

/** Tokens gone (refresh refused or signed out elsewhere): back to sign-in, keeping every draft and the open tabs. */
function sessionLost() {
  if (el.app.hidden && !el.signin.hidden) return;
  stopLoops();
  if (state.owner) {
    for (const view of state.views.values()) drafts.set(state.owner, view.id, view.reply.value);
  }
  showSignIn("Your session has ended. Sign in again to carry on — your draft replies are kept.");
}

// ------------------------------------------------------------------ header
function wireHeader() {
  el.signout.addEventListener("click", async () => {
    stopLoops();
    // Signing out means no more offers: offline first (best effort; pending offers move on at once).
    if (state.me && state.me.status !== "offline") {
      await state.api.setAvailability("offline").catch(() => {});
    }
    drafts.clearAll();
    resetViews();
    state.owner = null;
    state.me = null;
    await state.auth.signOut();
    el.signinUsername.value = "";
    showSignIn("You have signed out.");
  });
  for (const radio of document.querySelectorAll('input[name="availability"]')) {
    radio.addEventListener("change", () => { if (radio.checked) setAvailability(radio.value); });
  }
  try {
    el.sound.checked = localStorage.getItem("peerline.sound") === "on";
  } catch {
    el.sound.checked = false;
  }
  el.sound.addEventListener("change", () => {
    try { localStorage.setItem("peerline.sound", el.sound.checked ? "on" : "off"); } catch { /* not kept */ }
    if (el.sound.checked) beep(true);
  });
  el.takeNext.addEventListener("click", takeNext);
  el.crisisOffers.addEventListener("change", async () => {
    const wanted = el.crisisOffers.checked;
    el.crisisOffers.disabled = true;
    try {
      state.me = await guard(state.api.updateSettings({ offers_during_crisis: wanted }));
      renderMe();
    } catch (error) {
      el.crisisOffers.checked = !wanted;
      showError(error.status === 404 ? new Error("This line can't change that setting yet.") : error);
    } finally {
      el.crisisOffers.disabled = false;
    }
  });
  for (const tab of [el.supTabLine, el.supTabLibrary]) {
    tab.addEventListener("click", () => selectSupervisorTab(tab));
    tab.addEventListener("keydown", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) {
        event.preventDefault();
        const other = tab === el.supTabLine ? el.supTabLibrary : el.supTabLine;
        const target = event.key === "Home" ? el.supTabLine : event.key === "End" ? el.supTabLibrary : other;
        selectSupervisorTab(target);
        target.focus();
      }
    });
  }
  el.tabs.addEventListener("keydown", onTabKey);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.me) {
      state.views.get(state.selected)?.setUnread(false);
      refreshConversations();
    }
  });
  window.addEventListener("online", () => { state.live?.reconnect(); refreshConversations(); });
}

function renderMe() {
  const me = state.me;
  el.whoName.textContent = me.display_name;
  el.whoRoles.textContent = me.roles.includes("supervisor") ? "(supervisor)" : "";
  for (const radio of document.querySelectorAll('input[name="availability"]')) radio.checked = radio.value === me.status;
  el.crisisOffers.checked = Boolean(me.offers_during_crisis);
  el.crisisOffersHint.textContent = me.holding_crisis && !me.offers_during_crisis
    ? "You hold a crisis conversation: new offers are paused until it ends." : "";
  updateTitle();
  updateEmpty();
}

/** "(1) offer · Texter Blue Heron — Peerline" while an offer waits (with a marked favicon), else who and status. */
function updateTitle() {
  const me = state.me;
  if (!me) return;
  const title = state.offer
    ? `(${state.offerCount || 1}) offer · ${state.offer.texter_alias} — Peerline`
    : `Peerline — ${me.display_name} (${me.status})`;
  if (document.title !== title) document.title = title;
  const icon = state.offer ? FAVICON_OFFER : FAVICON_IDLE;
  if (el.favicon.getAttribute("href") !== icon) el.favicon.setAttribute("href", icon);
}

const FAVICON_IDLE = "data:image/svg+xml,"
  + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#1849a9"/></svg>');
const FAVICON_OFFER = "data:image/svg+xml,"
  + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#1849a9"/>'
    + '<circle cx="12" cy="4" r="4" fill="#d92d20"/></svg>');

function selectSupervisorTab(tab) {
  for (const other of [el.supTabLine, el.supTabLibrary]) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
}

async function setAvailability(status) {
  const before = state.me ? state.me.status : null;
  try {
    state.me = await guard(state.api.setAvailability(status));
    renderMe();
    if (status === "available") refreshConversations();
    state.lineView?.refresh(); // "Take it myself" depends on the supervisor's own status
  } catch (error) {
    if (state.me) state.me.status = before;
    if (state.me) renderMe();
    showError(error);
  }
}

function setConnection(status) {
  if (status === "reconnecting") checkAccess(); // the line may have closed the socket on purpose
  const text = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", polling: "Updating every few seconds" };
  el.connection.textContent = text[status] || status;
  el.connection.className = `pill ${status === "live" ? "live" : status === "reconnecting" ? "down" : ""}`;
}

// ------------------------------------------------------------------ app lifecycle
async function startApp() {
  const claims = state.auth.claims;
  if (state.owner && state.owner !== claims.sub) {
    resetViews(); // someone else signed in on this tab
  }
  state.owner = claims.sub || claims.username || "me";
  el.signin.hidden = true;
  el.app.hidden = false;
  clear(el.signinError);
  try {
    state.me = await guard(state.api.me());
  } catch (error) {
    if (error.status === 403) {
      showSignIn("This account isn't an active volunteer. Ask your supervisor.");
      await state.auth.signOut();
    } else if (error.status !== 401) {
      showError(error);
      setTimeout(() => { if (!state.me && state.auth.signedIn) startApp(); }, 5000);
    }
    return;
  }
  if (state.me.two_step_setup_required) {
    await setUpTwoStep();
    return;
  }
  renderMe();
  for (const text of state.me.notices || []) notice(text);
  const supervisor = state.me.roles.includes("supervisor");
  el.supervisor.hidden = !supervisor;
  if (supervisor && !state.lineView) {
    state.lineView = new LineView({
      api: state.api, section: el.line, body: el.lineBody, dialog: el.revealDialog, dialogBody: el.revealBody,
      guard, me: () => state.me,
      onUnavailable: () => { el.supTabLine.hidden = true; selectSupervisorTab(el.supTabLibrary); },
      onAssigned: (summary) => {
        state.localChange = Date.now();
        if (summary && mine(summary)) applySummary(summary);
        refreshConversations();
      },
    });
  }
  if (supervisor && !state.texterControls) {
    state.texterControls = new TexterControlsView({ api: state.api, body: el.texterControlsBody, guard });
  }
  if (supervisor && !state.libraryEditor) {
    state.libraryEditor = new LibraryEditor({
      api: state.api, section: el.manageLibrary, body: el.manageLibraryBody, guard,
      onSaved: (library) => { state.library = library; for (const v of state.views.values()) v.renderLibrary(); },
    });
  }
  await loadLibrary();
  startLoops();
  await refreshConversations();
  if (supervisor) state.lineView?.refresh();
}

function resetViews() {
  for (const view of state.views.values()) view.destroy();
  state.views.clear();
  state.order = [];
  state.selected = null;
  state.offer = null;
  clear(el.offer);
  clear(el.closedNotices); // an unsent draft may quote a texter: gone with the session
  state.closedAliases.clear();
  state.lineView = null;
  state.libraryEditor = null;
  // A typed alias or reason is the last supervisor's: gone with the session.
  state.texterControls = null;
  clear(el.texterControlsBody);
  state.library = null;
  state.libraryAvailable = true;
  el.manageLibrary.hidden = true;
  el.line.hidden = false;
  fill(el.lineBody, h("p", { class: "muted" }, "Loading…"));
  updateEmpty();
}

function startLoops() {
  stopLoops();
  state.live = new LiveChannel({
    url: state.config.socketUrl,
    token: () => state.auth.accessToken,
    onEvent: onLiveEvent,
    onResync: resync,
    onStatus: setConnection,
  });
  setConnection(state.live.status);
  state.live.start();
  const every = (ms, fn) => state.timers.push(setInterval(fn, ms));
  every(1000, tick);
  every(250, () => { if (state.offer) tickOffer(); }); // the countdown never lags a whole second
  every(POLL_CONVERSATIONS_MS, () => refreshConversations());
  every(POLL_MESSAGES_MS, () => { if (!state.live?.live) refreshAllMessages(); });
  every(POLL_LINE_MS, () => state.lineView?.refresh());
  every(60000, async () => {
    // Notices (e.g. closed for inactivity) and status changes made elsewhere.
    try {
      const me = await guard(state.api.me());
      const known = new Set(state.me?.notices || []);
      for (const text of me.notices || []) if (!known.has(text)) notice(text);
      state.me = me;
      renderMe();
    } catch { /* next time */ }
  });
}

function stopLoops() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  state.live?.stop();
  state.live = null;
}

async function loadLibrary() {
  if (!state.libraryAvailable) return;
  try {
    state.library = await guard(state.api.library());
  } catch (error) {
    if (error.status === 404) state.libraryAvailable = false; // getLibrary not on this line yet
    state.library = null;
  }
  for (const view of state.views.values()) view.renderLibrary();
  if (state.library && state.libraryEditor) state.libraryEditor.show(state.library);
  else el.manageLibrary.hidden = true;
}

// ------------------------------------------------------------------ live events
function onLiveEvent(event) {
  const conversationId = event.conversation_id || event.conversation?.id || event.message?.conversation_id;
  switch (event.type) {
    case "message": {
      if (event.message) state.lineView?.onMessage({ conversation_id: conversationId, ...event.message });
      const view = state.views.get(conversationId);
      if (!view) {
        // Supervisors hear every conversation's texts; a volunteer's unknown one is new to this page.
        if (!state.me?.roles.includes("supervisor")) refreshConversations();
      } else if (event.message && event.message.id) {
        view.merge([event.message], { fromLive: true });
      } else {
        view.loadMessages().catch(showError);
      }
      break;
    }
    case "offer":
    case "conversation":
      if (event.conversation && event.conversation.id) applySummary(event.conversation);
      refreshConversations();
      state.lineView?.refresh();
      break;
    case "escalation": {
      // The holder's banner and the supervisor's list show the same escalation state, at once.
      const escalation = event.escalation;
      if (escalation && escalation.conversation_id) state.views.get(escalation.conversation_id)?.applyEscalation(escalation);
      refreshConversations();
      state.lineView?.refresh();
      break;
    }
    default:
      break;
  }
}

/** After a (re)connect: re-list conversations and every open transcript, merged by id. */
async function resync() {
  await refreshConversations();
  await refreshAllMessages();
  state.lineView?.refresh();
}

async function refreshAllMessages() {
  await Promise.all([...state.views.values()].map((view) => view.loadMessages().catch(() => {})));
}

// ------------------------------------------------------------------ conversations
function mine(summary) {
  if (!state.me) return false;
  if (!state.me.roles.includes("supervisor")) return true;
  return summary.volunteer_id === state.me.volunteer_id; // supervisors also list everyone's: tabs are their own
}

/** A summary from an event or an action, ahead of the next full list. */
function applySummary(summary) {
  if (!mine(summary)) {
    // A supervisor's own conversation that closed (no holder any more) or went to someone else.
    const view = state.views.get(summary.id);
    if (view && !view.goingAway && summary.status === "closed") goneElsewhere(view, summary.close_reason);
    return;
  }
  if (summary.status === "active") {
    upsertView(summary);
    if (state.offer && state.offer.id === summary.id) renderOffer(null);
  } else if (summary.status === "offered") {
    renderOffer(summary);
  } else {
    if (state.offer && state.offer.id === summary.id) renderOffer(null);
    const view = state.views.get(summary.id);
    if (view && !view.goingAway) goneElsewhere(view, summary.close_reason);
  }
}

function refreshConversations() {
  if (!state.me) return Promise.resolve();
  if (state.refreshing) {
    state.refreshAgain = true;
    return state.refreshing;
  }
  const startedAt = Date.now();
  state.refreshing = (async () => {
    try {
      const data = await guard(state.api.conversations());
      if (state.localChange > startedAt) {
        state.refreshAgain = true; // an accept/close happened meanwhile: this list may be stale
        return;
      }
      const list = (data.conversations || []).filter(mine);
      const active = list.filter((c) => c.status === "active");
      const offers = list.filter((c) => c.status === "offered")
        .sort((a, b) => Date.parse(a.offer_expires_at || 0) - Date.parse(b.offer_expires_at || 0));
      const ids = new Set(active.map((c) => c.id));
      for (const view of [...state.views.values()]) {
        if (ids.has(view.id) || view.goingAway || view.missing) continue;
        // Gone from the list: the live "conversation" event says why (close_reason); give it a moment to arrive.
        view.missing = setTimeout(() => {
          if (state.views.get(view.id) === view && !view.goingAway) goneElsewhere(view, null);
        }, 1500);
      }
      for (const summary of active) {
        const view = state.views.get(summary.id);
        if (view && view.missing) {
          clearTimeout(view.missing);
          view.missing = null;
        }
      }
      for (const summary of active) upsertView(summary);
      renderOffer(offers[0] || null, offers.length);
    } catch (error) {
      showError(error);
    } finally {
      state.refreshing = null;
      if (state.refreshAgain) {
        state.refreshAgain = false;
        setTimeout(refreshConversations, 50);
      }
    }
  })();
  return state.refreshing;
}

function upsertView(summary) {
  let view = state.views.get(summary.id);
  if (view) {
    view.update(summary);
    return view;
  }
  view = new ConversationView(summary, {
    api: state.api,
    owner: state.owner,
    me: () => state.me,
    guard,
    library: () => state.library,
    wrapUp: { outcomes: state.config.sessionOutcomes, tags: state.config.sessionTags },
    onSelect: (v, options) => select(v.id, options),
    onGone: (v, text) => { state.localChange = Date.now(); removeView(v, text); },
    onChanged: () => { refreshConversations(); state.lineView?.refresh(); },
  });
  state.views.set(view.id, view);
  state.order.push(view.id);
  el.tabs.append(view.tab);
  view.loadMessages().catch(showError);
  if (!state.selected) select(view.id, { focus: false });
  updateEmpty();
  return view;
}

/** Closed or moved on without this page doing it: say which texter and why, and keep any unsent draft. */
function goneElsewhere(view, reason) {
  const draft = view.reply.value;
  removeView(view, null);
  closedNotice(view.alias, reason, draft);
}

function removeView(view, text) {
  if (state.views.get(view.id) !== view) return; // already gone: one notice per conversation
  const wasSelected = state.selected === view.id;
  const hadFocus = view.panel.contains(document.activeElement) || view.tab === document.activeElement;
  state.views.delete(view.id);
  state.order = state.order.filter((id) => id !== view.id);
  drafts.set(state.owner, view.id, "");
  view.destroy();
  if (text) notice(text);
  if (wasSelected) {
    state.selected = null;
    const next = state.order[0];
    if (next) select(next, { focus: hadFocus });
    else if (hadFocus) el.takeNext.focus();
  }
  updateEmpty();
}

function select(id, { focus = false, focusReply = false } = {}) {
  const view = state.views.get(id);
  if (!view) return;
  state.selected = id;
  for (const other of state.views.values()) if (other.id !== id) other.setSelected(false);
  view.setSelected(true, el.panels);
  if (focusReply) view.reply.focus();
  else if (focus) view.tab.focus();
}

function onTabKey(event) {
  const ids = state.order;
  const index = ids.indexOf(state.selected);
  if (index < 0) return;
  let next = null;
  if (event.key === "ArrowRight") next = ids[(index + 1) % ids.length];
  else if (event.key === "ArrowLeft") next = ids[(index - 1 + ids.length) % ids.length];
  else if (event.key === "Home") next = ids[0];
  else if (event.key === "End") next = ids[ids.length - 1];
  if (next) {
    event.preventDefault();
    select(next, { focus: true });
  }
}

function updateEmpty() {
  el.noConversations.hidden = state.views.size > 0;
  if (!el.noConversations.hidden) {
    const status = state.me ? state.me.status : null;
    const text = status === "available"
      ? (state.offer ? "An offer is waiting for you." : "Waiting for an offer… You're available: a new conversation will be offered here, or press Take next.")
      : "No conversations yet. Set yourself Available to receive offers, or press Take next.";
    if (el.noConversations.textContent !== text) el.noConversations.textContent = text;
  }
}

// ------------------------------------------------------------------ offers
function renderOffer(summary, count = summary ? 1 : 0) {
  const previous = state.offer;
  state.offer = summary;
  state.offerReceivedAt = Date.now(); // waiting_seconds is as of this answer
  state.offerCount = summary ? count : 0;
  el.takeNextBar.hidden = Boolean(summary);
  document.body.classList.toggle("has-offer", Boolean(summary));
  updateTitle();
  updateEmpty();
  if (!summary) {
    if (previous) clear(el.offer);
    return;
  }
  if (previous && previous.id === summary.id && el.offer.firstChild) {
    tickOffer();
    return;
  }
  const countdown = h("span", { class: "countdown", "aria-live": "off", "data-countdown": "" });
  const accept = h("button", { type: "button", class: "primary", onclick: () => respond(summary, "accept") }, "Accept");
  const decline = h("button", { type: "button", onclick: () => respond(summary, "decline") }, "Decline");
  // What a volunteer weighs before accepting: how long they waited, the level in words, their first words.
  const waited = h("span", { class: "offer-waited", "data-offer-waited": "" });
  fill(el.offer,
    h("div", { class: "offer-text" },
      h("p", { class: "offer-title" }, summary.offered_again ? "Offered to you again" : "New conversation offered"),
      // A decline lapses when nobody else can take the texter (at once for high/imminent risk): say so, or the
      // offer coming straight back looks as if Decline did nothing.
      summary.offered_again ? h("p", { class: "offer-again" },
        "You declined this texter earlier, but nobody else can take them right now",
        ["high", "imminent"].includes(summary.risk_level) ? " and they are at risk." : ".") : null,
      h("p", {}, h("strong", { class: "offer-alias" }, summary.texter_alias), " · ",
        levelBadge(summary.risk_level), " ", h("span", { class: "offer-risk" }, riskText(summary.risk_level)),
        summary.language ? ` · language ${summary.language}` : "",
        count > 1 ? ` · ${count - 1} more offered` : ""),
      summary.preview ? h("p", { class: "offer-preview" },
        h("span", { class: "sr-only" }, "First text: "), h("q", {}, summary.preview)) : null,
      h("p", {}, waited, " ", countdown)),
    h("div", { class: "offer-actions" }, accept, decline));
  el.offer.dataset.conversationId = summary.id;
  tickOffer();
  if (!state.offerSeen.has(summary.id)) {
    state.offerSeen.add(summary.id);
    beep();
  }
  const active = document.activeElement;
  if (!active || active === document.body || active === el.takeNext) accept.focus();
}

function tickOffer() {
  const countdown = el.offer.querySelector("[data-countdown]");
  if (!countdown || !state.offer) return;
  const left = Math.ceil((Date.parse(state.offer.offer_expires_at) - Date.now()) / 1000);
  let text = "";
  if (left > 0) text = `Offer expires in ${left} s`;
  else if (!Number.isNaN(left)) text = "Offer expired";
  if (countdown.textContent !== text) countdown.textContent = text;
  const waited = el.offer.querySelector("[data-offer-waited]");
  if (waited) {
    const offer = state.offer;
    let seconds = null;
    if (typeof offer.waiting_seconds === "number") seconds = offer.waiting_seconds + (Date.now() - state.offerReceivedAt) / 1000;
    else seconds = secondsSince(offer.waiting_since);
    const waitedText = seconds === null ? "" : `Waiting ${duration(seconds)} ·`;
    if (waited.textContent !== waitedText) waited.textContent = waitedText;
  }
  if (left <= 0) {
    el.offer.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    // The line moves an expired offer on; look again now and then until it has.
    if (left < -2 && Date.now() - (tickOffer.lastRefresh || 0) > 2000) {
      tickOffer.lastRefresh = Date.now();
      refreshConversations();
    }
  }
}

async function respond(summary, action) {
  el.offer.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  state.localChange = Date.now();
  try {
    if (action === "accept") {
      const active = await guard(state.api.accept(summary.id));
      renderOffer(null);
      const view = upsertView(active || { ...summary, status: "active" });
      select(view.id, { focusReply: true });
    } else {
      await guard(state.api.decline(summary.id));
      renderOffer(null);
      el.takeNext.focus();
    }
  } catch (error) {
    renderOffer(null);
    if (error.status === 409 || error.status === 404) notice(`That offer has moved on: ${error.message}`);
    else showError(error);
    el.takeNext.focus();
  }
  state.localChange = Date.now();
  refreshConversations();
}

async function takeNext() {
  el.takeNext.disabled = true;
  el.takeNextStatus.textContent = "";
  state.localChange = Date.now();
  try {
    const summary = await guard(state.api.takeNext());
    if (summary.status === "offered") renderOffer(summary);
    else select(upsertView(summary).id, { focusReply: true });
    el.takeNextStatus.textContent = `You took ${summary.texter_alias}.`;
  } catch (error) {
    if (error.status === 404) el.takeNextStatus.textContent = "Nobody you can take is waiting right now.";
    else if (error.status === 403 || error.status === 409) el.takeNextStatus.textContent = error.message;
    else showError(error);
  } finally {
    el.takeNext.disabled = false;
    state.localChange = Date.now();
  }
}

// ------------------------------------------------------------------ clock
function tick() {
  const now = Date.now();
  tickOffer();
  for (const view of state.views.values()) view.tick(now);
  if (state.lineView && state.lineView.data && !el.supervisor.hidden && !el.line.contains(document.activeElement)) {
    // Relative times ("paged 2 min ago") age between refreshes; keep focus stable by skipping when inside.
    if (now % 5000 < 1000) state.lineView.render(now);
  }
}

let audio = null;
function beep(force = false) {
  if (!force && !el.sound.checked) return;
  try {
    audio = audio || new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.45);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.5);
  } catch {
    /* no audio here */
  }
}


boot();
