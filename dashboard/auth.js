// Cognito's JSON API called directly with fetch: USER_PASSWORD_AUTH, the NEW_PASSWORD_REQUIRED challenge, two-step
// sign-in (the SOFTWARE_TOKEN_MFA and MFA_SETUP challenges, and setting TOTP up), REFRESH_TOKEN_AUTH before expiry
// (and on a 401), sign-out. Tokens live in sessionStorage (this tab only); a TOTP secret is never stored.

const STORE = "peerline.session";
const REFRESH_MARGIN_S = 120;

export class AuthError extends Error {
  constructor(type, message) {
    super(message || type);
    this.type = type;
  }
}

function decodeJwt(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")))
        .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
        .join(""),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

/** What a person should read for Cognito's error types (never "user does not exist": no account probing). */
function friendly(type, message) {
  switch (type) {
    case "NotAuthorizedException":
      if (/expired/i.test(message || "")) return "Your session has expired. Please sign in again.";
      if (/disabled/i.test(message || "")) return "This account is disabled. Ask your supervisor.";
      if (/session/i.test(message || "")) return "That sign-in step timed out. Sign in again.";
      return "Incorrect username, e-mail or password.";
    case "UserNotFoundException":
      return "Incorrect username, e-mail or password.";
    case "InvalidPasswordException":
      return message || "That password doesn't meet the rules: at least 12 characters, upper and lower case, a number.";
    case "CodeMismatchException":
    case "EnableSoftwareTokenMFAException":
      return "That code didn't match. Enter the 6-digit code your authenticator app shows now.";
    case "ExpiredCodeException":
      return "That code has expired. Enter the one your authenticator app shows now.";
    case "PasswordResetRequiredException":
      return "Your password must be reset. Ask your supervisor for a new temporary password.";
    case "TooManyRequestsException":
    case "LimitExceededException":
      return "Too many attempts. Wait a minute and try again.";
    case "NetworkError":
      return "Can't reach the sign-in service. Check your connection and try again.";
    default:
      return message || "Sign-in failed. Please try again.";
  }
}

export class CognitoAuth {
  constructor(config, { onChange = () => {} } = {}) {
    this.endpoint = config.cognitoEndpoint;
    this.clientId = config.userPoolClientId;
    this.onChange = onChange;
    this.session = null;
    this.timer = null;
    this.refreshing = null;
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
      if (saved && saved.refreshToken) this.session = saved;
    } catch {
      this.session = null;
    }
  }

  get signedIn() {
    return Boolean(this.session && this.session.accessToken);
  }

  get accessToken() {
    return this.session ? this.session.accessToken : "";
  }

  /** The token's claims: sub, username, cognito:groups… */
  get claims() {
    return this.session ? decodeJwt(this.session.accessToken) : {};
  }

  get expiresInSeconds() {
    return this.session ? (this.session.expiresAt - Date.now()) / 1000 : 0;
  }

  async call(action, body) {
    let response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify(body),
      });
    } catch {
      throw new AuthError("NetworkError", friendly("NetworkError"));
    }
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    if (!response.ok) {
      const type = String(data.__type || data.code || `HTTP${response.status}`).split("#").pop();
      throw new AuthError(type, friendly(type, data.message || data.Message));
    }
    return data;
  }

  /** → {done: true} or {challenge: "NEW_PASSWORD_REQUIRED", username, session} */
  async signIn(username, password) {
    const name = username.trim();
    const data = await this.call("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: this.clientId,
      // Usernames are case-insensitive in the pool and stored in lower case; e-mail aliases are too.
      AuthParameters: { USERNAME: name.toLowerCase(), PASSWORD: password },
    });
    return this.#afterAuth(data, name.toLowerCase());
  }

  async completeNewPassword(challenge, newPassword) {
    const data = await this.call("RespondToAuthChallenge", {
      ChallengeName: "NEW_PASSWORD_REQUIRED",
      ClientId: this.clientId,
      Session: challenge.session,
      ChallengeResponses: { USERNAME: challenge.username, NEW_PASSWORD: newPassword },
    });
    return this.#afterAuth(data, challenge.username);
  }

  /** The SOFTWARE_TOKEN_MFA challenge: the code the authenticator app shows now. */
  async answerTotp(challenge, code) {
    const data = await this.call("RespondToAuthChallenge", {
      ChallengeName: "SOFTWARE_TOKEN_MFA",
      ClientId: this.clientId,
      Session: challenge.session,
      ChallengeResponses: { USERNAME: challenge.username, SOFTWARE_TOKEN_MFA_CODE: code },
    });
    return this.#afterAuth(data, challenge.username);
  }

  /**
   * Setting TOTP up, step 1: a new secret for the authenticator app. Signed in: for this user (their access token);
   * at an MFA_SETUP challenge: for that sign-in (its session, which Cognito renews).
   */
  async associateTotp(challenge = null) {
    const data = await this.call(
      "AssociateSoftwareToken", challenge ? { Session: challenge.session } : { AccessToken: this.accessToken });
    if (challenge && data.Session) challenge.session = data.Session;
    return data.SecretCode;
  }

  /** Step 2: the app's first code proves it holds the secret; then TOTP is on, and asked at every sign-in. */
  async verifyTotp(code, challenge = null) {
    const proof = { UserCode: code, FriendlyDeviceName: "Peerline" };
    if (challenge) {
      const verified = await this.call("VerifySoftwareToken", { ...proof, Session: challenge.session });
      const data = await this.call("RespondToAuthChallenge", {
        ChallengeName: "MFA_SETUP",
        ClientId: this.clientId,
        Session: verified.Session || challenge.session,
        ChallengeResponses: { USERNAME: challenge.username },
      });
      return this.#afterAuth(data, challenge.username);
    }
    await this.call("VerifySoftwareToken", { ...proof, AccessToken: this.accessToken });
    await this.call("SetUserMFAPreference", {
      AccessToken: this.accessToken,
      SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
    });
    return { done: true };
  }

  #afterAuth(data, username) {
    if (data.AuthenticationResult) {
      this.#store(data.AuthenticationResult);
      return { done: true };
    }
    if (["NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "MFA_SETUP"].includes(data.ChallengeName)) {
      const params = data.ChallengeParameters || {};
      return {
        challenge: data.ChallengeName,
        username: params.USER_ID_FOR_SRP || username,
        session: data.Session,
      };
    }
    throw new AuthError(data.ChallengeName || "Unsupported", "This sign-in step isn't supported here. Ask your supervisor.");
  }

  #store(result) {
    const refreshToken = result.RefreshToken || (this.session && this.session.refreshToken);
    this.session = {
      accessToken: result.AccessToken,
      idToken: result.IdToken,
      refreshToken,
      expiresAt: Date.now() + (Number(result.ExpiresIn) || 3600) * 1000,
    };
    const exp = decodeJwt(result.AccessToken).exp;
    if (exp) this.session.expiresAt = Math.min(this.session.expiresAt, exp * 1000);
    try {
      sessionStorage.setItem(STORE, JSON.stringify(this.session));
    } catch {
      /* private mode: the session lasts as long as the page */
    }
    this.schedule();
    this.onChange(this);
  }

  /** Refresh ahead of expiry; a failure is reported through onChange(auth) with signedIn false. */
  schedule() {
    clearTimeout(this.timer);
    if (!this.session) return;
    const inMs = Math.max(5_000, (this.expiresInSeconds - REFRESH_MARGIN_S) * 1000);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.min(inMs, 2_147_000_000));
  }

  /** One refresh at a time; callers share it. Throws AuthError when the refresh token is no good. */
  refresh() {
    if (!this.session || !this.session.refreshToken) return Promise.reject(new AuthError("NoSession", "Please sign in."));
    if (!this.refreshing) {
      this.refreshing = this.call("InitiateAuth", {
        AuthFlow: "REFRESH_TOKEN_AUTH",
        ClientId: this.clientId,
        AuthParameters: { REFRESH_TOKEN: this.session.refreshToken },
      })
        .then((data) => {
          if (!data.AuthenticationResult) throw new AuthError("RefreshFailed", "Please sign in again.");
          this.#store(data.AuthenticationResult);
        })
        .catch((error) => {
          if (error.type !== "NetworkError") this.expire();
          throw error;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** The session is over (refresh refused): forget the tokens but not the drafts. */
  expire() {
    clearTimeout(this.timer);
    this.session = null;
    try {
      sessionStorage.removeItem(STORE);
    } catch {
      /* nothing stored */
    }
    this.onChange(this);
  }

  async signOut() {
    const token = this.accessToken;
    const refresh = this.session && this.session.refreshToken;
    this.expire();
    // Best effort: invalidate the refresh token (and every token on AWS). Signing out locally never waits on it.
    try {
      if (refresh) await this.call("RevokeToken", { ClientId: this.clientId, Token: refresh });
    } catch {
      try {
        if (token) await this.call("GlobalSignOut", { AccessToken: token });
      } catch {
        /* already signed out here */
      }
    }
  }
}
