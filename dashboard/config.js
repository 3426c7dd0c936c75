// The runtime config: /config.json next to index.html (the local line's dashboard server, or the API behind
// CloudFront on AWS). Nothing about a particular line is built into the files.

const REQUIRED = ["apiUrl", "region", "userPoolClientId"];

export async function loadConfig(url = "config.json") {
  const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`the dashboard's configuration is unavailable (HTTP ${response.status})`);
  const raw = await response.json();
  const missing = REQUIRED.filter((key) => !raw[key]);
  if (missing.length) throw new Error(`the dashboard's configuration lacks ${missing.join(", ")}`);
  return Object.freeze({
    apiUrl: String(raw.apiUrl).replace(/\/+$/, ""),
    socketUrl: raw.socketUrl ? String(raw.socketUrl) : "",
    region: String(raw.region),
    userPoolId: raw.userPoolId ? String(raw.userPoolId) : "",
    userPoolClientId: String(raw.userPoolClientId),
    cognitoEndpoint: raw.cognitoEndpoint
      ? String(raw.cognitoEndpoint)
      : `https://cognito-idp.${raw.region}.amazonaws.com/`,
    // The wrap-up's choices (the operator's lists; the API refuses anything else).
    sessionOutcomes: Object.freeze(strings(raw.sessionOutcomes)),
    sessionTags: Object.freeze(strings(raw.sessionTags)),
  });
}

function strings(list) {
  return Array.isArray(list) ? list.map(String).filter(Boolean) : [];
}
