// api.js — same-origin JSON API helper for Prompt Portal pages: fetch with the session cookie, the CSRF header
// on writes, and failures turned into ApiError whose message is plain words (the server's `detail` when given).

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, data = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

/** The CSRF token: the `csrftoken` cookie, else any {% csrf_token %} hidden input on the page. */
export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
  return input ? input.value : "";
}

const STATUS_TEXT = {
  401: "Your login has expired. Please reload the page and log in again.",
  403: "You are not allowed to do that. Please reload the page and try again.",
  404: "That chat no longer exists.",
  413: "That is too long to send.",
  429: "Too many requests. Please wait a moment and try again.",
};

/**
 * Call the JSON API. Resolves to the parsed body (null for 204); rejects with ApiError (or AbortError).
 * @param {string} path
 * @param {{method?: string, body?: unknown, signal?: AbortSignal}} [options]
 */
export async function apiFetch(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", signal };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError("Could not reach the server. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  let data = null;
  if ((response.headers.get("Content-Type") || "").includes("application/json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail.trim() : "";
    const message =
      (response.status === 401 && STATUS_TEXT[401]) ||
      detail ||
      STATUS_TEXT[response.status] ||
      `The server could not do that right now (error ${response.status}). Please try again.`;
    throw new ApiError(message, { status: response.status, code: data?.code ?? null, data });
  }
  if (data === null) {
    throw new ApiError("The server sent an unexpected answer. Please reload the page.", { status: response.status });
  }
  return data;
}

/** Plain-words text for any error thrown while calling the API. */
export function errorText(err) {
  if (err instanceof ApiError) return err.message;
  return "Something went wrong. Please reload the page and try again.";
}
