// The volunteer API (OpenAPI at {apiUrl}/openapi.json) with `Authorization: Bearer <AccessToken>`.
// A 401 refreshes the tokens once and retries; if the refresh fails the session is lost (the app shows sign-in).

// Messages per transcript page (listMessages gives at most 200); earlier ones load on demand.
export const TRANSCRIPT_PAGE = 50;

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export class SessionLost extends Error {
  constructor() {
    super("Your session has ended. Please sign in again.");
    this.status = 401;
  }
}

export class Api {
  constructor(baseUrl, auth) {
    this.baseUrl = baseUrl;
    this.auth = auth;
  }

  async #send(method, path, body) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${this.auth.accessToken}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "Can't reach the line. Check your connection; retrying shortly.");
    }
  }

  async request(method, path, body) {
    if (!this.auth.signedIn) throw new SessionLost();
    if (this.auth.expiresInSeconds < 30) await this.auth.refresh().catch(() => {});
    if (!this.auth.signedIn) throw new SessionLost();
    let response = await this.#send(method, path, body);
    if (response.status === 401) {
      try {
        await this.auth.refresh();
      } catch (error) {
        if (error.type === "NetworkError") throw new ApiError(0, error.message);
        throw new SessionLost();
      }
      response = await this.#send(method, path, body);
      if (response.status === 401) {
        this.auth.expire();
        throw new SessionLost();
      }
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message = (data && (data.message || data.detail)) || `The line answered ${response.status}.`;
      throw new ApiError(response.status, String(message), data);
    }
    return data;
  }

  me() { return this.request("GET", "/volunteer/me"); }
  setAvailability(status) { return this.request("PUT", "/volunteer/me/availability", { status }); }
  conversations() { return this.request("GET", "/volunteer/conversations"); }
  takeNext() { return this.request("POST", "/volunteer/conversations/take-next"); }
  accept(id) { return this.request("POST", `/volunteer/conversations/${encodeURIComponent(id)}/accept`); }
  decline(id) { return this.request("POST", `/volunteer/conversations/${encodeURIComponent(id)}/decline`); }
  /** A page of the transcript: the newest messages, or (with a page's next_cursor) the ones before it. */
  messages(id, cursor) {
    const query = new URLSearchParams({ limit: String(TRANSCRIPT_PAGE) });
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `/volunteer/conversations/${encodeURIComponent(id)}/messages?${query}`);
  }
  send(id, body) { return this.request("POST", `/volunteer/conversations/${encodeURIComponent(id)}/messages`, { body }); }
  transfer(id, to) { return this.request("POST", `/volunteer/conversations/${encodeURIComponent(id)}/transfer`, { to }); }
  close(id, outcome, tags) {
    return this.request("POST", `/volunteer/conversations/${encodeURIComponent(id)}/close`, { outcome, tags });
  }
  escalate(id) { return this.request("POST", `/volunteer/conversations/${encodeURIComponent(id)}/escalate`); }
  updateSettings(settings) { return this.request("PUT", "/volunteer/me/settings", settings); }
  transferCandidates(id) {
    return this.request("GET", `/volunteer/conversations/${encodeURIComponent(id)}/transfer-candidates`);
  }
  assign(id, to) { return this.request("POST", `/volunteer/conversations/${encodeURIComponent(id)}/assign`, { to }); }
  line() { return this.request("GET", "/volunteer/line"); }
  library() { return this.request("GET", "/volunteer/library"); }
  updateLibrary(library) { return this.request("PUT", "/volunteer/library", library); }
  acknowledge(id) { return this.request("POST", `/volunteer/escalations/${encodeURIComponent(id)}/acknowledge`); }
  reveal(id, reason) { return this.request("POST", `/volunteer/escalations/${encodeURIComponent(id)}/reveal`, { reason }); }
  blockTexter(code, reason, hours) {
    return this.request("POST", `/volunteer/texters/${encodeURIComponent(code)}/block`, { reason, hours });
  }
  unblockTexter(code, reason) {
    return this.request("POST", `/volunteer/texters/${encodeURIComponent(code)}/unblock`, { reason });
  }
  eraseTexter(code, reason) {
    return this.request("POST", `/volunteer/texters/${encodeURIComponent(code)}/erase`, { reason });
  }
}
