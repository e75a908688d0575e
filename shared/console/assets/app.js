// Herald Console: sign in with an API key (kept in this tab's session storage, sent only in the
// Authorization header), then move between pages by the URL's fragment.

import { apiKey, forgetApiKey, get, setApiKey } from "./api.js";
import { composePage } from "./compose.js";
import { detailPage } from "./detail.js";
import { describe, field, h, heading } from "./dom.js";
import { installationsPage } from "./installations.js";
import { notificationsPage } from "./notifications.js";
import { schedulesPage } from "./schedules.js";

// Content-Security-Policy violations are counted where tests and curious people can see them.
let violations = 0;
document.addEventListener("securitypolicyviolation", (event) => {
  violations += 1;
  document.body.dataset.cspViolations = String(violations);
  console.error(`Content-Security-Policy blocked ${event.blockedURI || "inline content"} (${event.violatedDirective})`);
});
document.body.dataset.cspViolations = "0";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
const themeButton = document.getElementById("theme-toggle");

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  themeButton.setAttribute("aria-pressed", String(theme === "dark"));
  localStorage.setItem("herald.theme", theme);
}
themeButton.addEventListener("click", () => applyTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
applyTheme(localStorage.getItem("herald.theme") || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));

function signInPage() {
  nav.hidden = true;
  signOutButton.hidden = true;
  const key = h("input", { type: "password", id: "api-key", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert" });
  const form = h("form", { class: "sign-in", onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = "";
    setApiKey(key.value.trim());
    try {
      await get("/api/schedules?limit=1");
      route();
    } catch (e) {
      forgetApiKey();
      error.textContent = e.status === 401 ? "That key is not valid." : describe(e);
      key.focus();
    }
  } },
  field("API key", key, "The notify API key (the local runner prints it when it starts). It stays in this tab only."),
  error,
  h("button", { type: "submit", class: "primary", id: "sign-in" }, "Sign in"));
  main.replaceChildren(heading("Sign in"), form);
  key.focus();
}

signOutButton.addEventListener("click", () => {
  forgetApiKey();
  location.hash = "";
  signInPage();
});
window.addEventListener("herald:unauthorized", () => {
  forgetApiKey();
  // The sign-in form says so itself; elsewhere the key stopped working: ask for it again.
  if (!document.getElementById("api-key")) signInPage();
});

let controller = null;
async function route() {
  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;
  if (!apiKey()) return signInPage();
  nav.hidden = false;
  signOutButton.hidden = false;
  const path = (location.hash.replace(/^#/, "") || "/compose").split("/").filter(Boolean).map(decodeURIComponent);
  const page = path[0] || "compose";
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.nav === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    if (page === "notifications" && path[1] && path[2] === "update") await composePage(main, { notification: path[1] });
    else if (page === "notifications" && path[1]) await detailPage(main, path[1], signal);
    else if (page === "notifications") await notificationsPage(main, signal);
    else if (page === "schedules" && path[1]) await composePage(main, { schedule: path[1] });
    else if (page === "schedules") await schedulesPage(main);
    else if (page === "installations") await installationsPage(main);
    else await composePage(main);
  } catch (e) {
    if (e.status === 401) return;
    main.replaceChildren(heading("Something went wrong"), h("p", { class: "error", text: describe(e) }));
  }
  if (signal.aborted) return;
  document.title = `${main.querySelector("h1") ? main.querySelector("h1").textContent : "Herald"} · Herald Console`;
  const title = main.querySelector("h1");
  if (title && !main.contains(document.activeElement)) title.focus();
  document.body.dataset.page = page;
}

window.addEventListener("hashchange", route);
route();
