// Building the page without markup strings: every text goes in as text, so nothing an API
// answer holds can become script (the Content-Security-Policy forbids inline script anyway).

/** An element with attributes, properties, listeners (`onclick`) and children. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "text") {
      element.textContent = value;
    } else if (name === "value" || name === "checked" || name === "selected") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

let ids = 0;
/** A fresh id for label/control pairs. */
export const uid = (prefix = "f") => `${prefix}-${++ids}`;

/** A labelled control with a hint and a place for its error, wired for screen readers. */
export function field(label, control, hint) {
  const id = control.id || uid();
  control.id = id;
  const error = h("p", { class: "error", id: `${id}-error`, hidden: true });
  const described = [error.id];
  let hintElement = null;
  if (hint) {
    hintElement = h("p", { class: "hint", id: `${id}-hint`, text: hint });
    described.unshift(hintElement.id);
  }
  control.setAttribute("aria-describedby", described.join(" "));
  return h("div", { class: "field" }, h("label", { for: id, text: label }), control, hintElement, error);
}

/** Shows (or clears, with "") the error of a control made by `field`. */
export function setError(control, message) {
  const error = document.getElementById(`${control.id}-error`);
  control.toggleAttribute("aria-invalid", Boolean(message));
  if (!error) return;
  error.textContent = message || "";
  error.hidden = !message;
}

/** A select with [value, label] options. */
export function select(options, value, attrs = {}) {
  return h("select", attrs, options.map(([v, label]) => h("option", { value: v, selected: v === value, text: label })));
}

/** Says something to everyone: visibly, and through the live region to screen readers. */
export function announce(message) {
  const status = document.getElementById("status");
  status.textContent = message;
  status.classList.add("shown");
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => status.classList.remove("shown"), 6000);
}

/** A modal question; resolves true when confirmed. Escape or Cancel resolve false. */
export function confirmDialog(title, message, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h("h2", { id: "confirm-title", text: title }),
      h("p", { text: message }),
      h("div", { class: "buttons" },
        h("button", { type: "button", class: "danger", id: "confirm-yes", onclick: () => done(true) }, confirmLabel),
        h("button", { type: "button", id: "confirm-no", onclick: () => done(false) }, "Cancel")),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("#confirm-no").focus();
  });
}

/** A date-time as the browser's local time, with its zone. */
export function localTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The browser's IANA zone. */
export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** A page heading that takes the focus, so keyboard and screen-reader users land on the page. */
export function heading(text) {
  return h("h1", { tabindex: "-1", class: "page-title", text });
}

/** A table from column definitions [{label, cell(row) -> node|text}]. */
export function table(caption, columns, rows, attrs = {}) {
  return h("table", attrs,
    h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c.label })))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", {}, c.cell(row)))))));
}

/** An error from the API as a sentence, naming its field. */
export function describe(error) {
  if (error && error.field) return `${error.message} (${error.field})`;
  return (error && error.message) || String(error);
}
