// The notify API, as any script would call it: JSON bodies, the key in the Authorization
// header (never in a URL), and Herald's error shape {error: {code, message, field}}.

const KEY = "herald.apiKey";

export const apiKey = () => sessionStorage.getItem(KEY);
export const setApiKey = (key) => sessionStorage.setItem(KEY, key);
export const forgetApiKey = () => sessionStorage.removeItem(KEY);

/** An answer other than 2xx, with the API's code, message and field when it gave them. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.field = error.field || "";
    this.body = body;
  }
}

/** `?name=value&...` of the values that are set. */
export function query(params = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** One request; resolves with the JSON (or text) answer, rejects with an ApiError. */
export async function call(method, path, body, accept = "application/json") {
  const headers = { Authorization: `Bearer ${apiKey() || ""}`, Accept: accept };
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      answer = null;
    }
    if (response.status === 401) window.dispatchEvent(new CustomEvent("herald:unauthorized"));
    throw new ApiError(response.status, answer);
  }
  if (response.status === 204) return null;
  if (type.includes("json")) return response.json();
  return { contentType: type, text: await response.text() };
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);
export const patch = (path, body) => call("PATCH", path, body);
export const del = (path) => call("DELETE", path);

/** Every item of a paged listing, following nextCursor (at most `max` items). */
export async function all(path, params = {}, max = 10000) {
  const items = [];
  let cursor = "";
  do {
    const page = await get(path + query({ ...params, cursor, limit: 1000 }));
    items.push(...page.items);
    cursor = page.nextCursor || "";
  } while (cursor && items.length < max);
  return items;
}
