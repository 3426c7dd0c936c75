// Typed replies survive a reload, an expired session and a fresh sign-in: sessionStorage, per user and conversation.
// Sign-out clears them (a draft may quote a texter).

const PREFIX = "peerline.draft.";

function key(owner, conversationId) {
  return `${PREFIX}${owner}.${conversationId}`;
}

export const drafts = {
  get(owner, conversationId) {
    try {
      return sessionStorage.getItem(key(owner, conversationId)) || "";
    } catch {
      return "";
    }
  },
  set(owner, conversationId, text) {
    try {
      if (text) sessionStorage.setItem(key(owner, conversationId), text);
      else sessionStorage.removeItem(key(owner, conversationId));
    } catch {
      /* storage full or disabled: the draft stays in the box */
    }
  },
  clearAll() {
    try {
      for (const name of Object.keys(sessionStorage)) if (name.startsWith(PREFIX)) sessionStorage.removeItem(name);
    } catch {
      /* nothing to clear */
    }
  },
};
