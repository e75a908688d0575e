// Compose: a text or an Adaptive Card with its data, previewed live as Herald renders it
// (POST /api/render) and drawn by Microsoft's renderer; then an audience and "send now" or a
// schedule. The same page edits a schedule (PATCH) and updates a sent notification (PUT).

import { ApiError, get, patch, post, put } from "./api.js";
import { audienceEditor } from "./audience.js";
import { renderActivity } from "./card_preview.js";
import { announce, confirmDialog, describe, field, h, heading } from "./dom.js";
import { jsonEditor } from "./json_editor.js";
import { recurrenceEditor } from "./recurrence.js";
import { SAMPLES } from "./samples.js";

const LIMIT = 28000;

/** The message part: text or card, data, summary and flags. */
function messageEditor(onChange) {
  const textMode = h("input", { type: "radio", name: "message-kind", id: "kind-text", value: "text", checked: true });
  const cardMode = h("input", { type: "radio", name: "message-kind", id: "kind-card", value: "card" });
  const text = h("textarea", { id: "message-text", rows: 5 });
  const card = jsonEditor({ label: "Adaptive Card JSON", id: "card-json", rows: 18, onInput: onChange,
    hint: "Adaptive Card 1.5 (https://adaptivecards.io/explorer/). ${path} placeholders are bound to the data below." });
  const data = jsonEditor({ label: "Data for ${...} placeholders (JSON object, optional)", id: "card-data", rows: 6, onInput: onChange });
  const summary = h("input", { id: "message-summary", autocomplete: "off" });
  const alert = h("input", { type: "checkbox", id: "message-alert" });
  const optOut = h("input", { type: "checkbox", id: "message-opt-out" });
  const samples = h("div", { class: "samples", role: "group", "aria-label": "Samples" },
    h("span", { class: "hint", text: "Start from a sample:" }),
    SAMPLES.map((s) => h("button", { type: "button", id: `sample-${s.id}`, onclick: () => useSample(s) }, s.label)));
  const textPart = field("Text", text, "Teams shows it as the message; markdown is allowed.");
  const cardPart = h("div", { class: "card-part" }, card.element, data.element);

  function layout() {
    textPart.hidden = cardMode.checked;
    cardPart.hidden = !cardMode.checked;
  }
  function useSample(sample) {
    cardMode.checked = true;
    card.text = JSON.stringify(sample.card, null, 2);
    data.text = JSON.stringify(sample.data, null, 2);
    summary.value = sample.summary;
    layout();
    onChange();
    announce(`${sample.label} sample loaded`);
  }
  for (const control of [textMode, cardMode, text, summary, alert, optOut]) {
    control.addEventListener("input", () => {
      layout();
      onChange();
    });
  }
  const element = h("fieldset", { class: "message" }, h("legend", { text: "Message" }),
    h("div", { class: "choices", role: "radiogroup", "aria-label": "Message kind" },
      h("span", { class: "choice" }, textMode, h("label", { for: textMode.id, text: "Text" })),
      h("span", { class: "choice" }, cardMode, h("label", { for: cardMode.id, text: "Adaptive Card" }))),
    samples, textPart, cardPart,
    field("Summary (notification preview text, optional)", summary),
    h("div", { class: "choice" }, alert, h("label", { for: alert.id, text: "Alert in the activity feed" })),
    h("div", { class: "choice" }, optOut, h("label", { for: optOut.id, text: "Add a \"Stop these notifications\" button" })));
  layout();

  return {
    element,
    /** The API's message object, or null when a JSON field does not parse (errors shown). */
    value() {
      const message = {};
      if (cardMode.checked) {
        card.clear();
        data.clear();
        const parsedCard = card.parse();
        const parsedData = data.parse();
        if (!parsedCard || !parsedData) return null;
        if (parsedCard.value === undefined) {
          card.report([{ field: "", message: "the card is empty: write one or start from a sample", error: true }]);
          return null;
        }
        message.card = parsedCard.value;
        if (parsedData.value !== undefined) message.data = parsedData.value;
      } else {
        message.text = text.value;
      }
      if (summary.value.trim()) message.summary = summary.value.trim();
      if (alert.checked) message.alert = true;
      if (optOut.checked) message.optOutButton = true;
      return message;
    },
    set(message) {
      cardMode.checked = Boolean(message.card);
      textMode.checked = !message.card;
      text.value = message.text || "";
      card.text = message.card ? JSON.stringify(message.card, null, 2) : "";
      data.text = message.data ? JSON.stringify(message.data, null, 2) : "";
      summary.value = message.summary || "";
      alert.checked = Boolean(message.alert);
      optOut.checked = Boolean(message.optOutButton);
      layout();
    },
    /** Shows an API error where it belongs; returns whether it was about the message. */
    report(error, prefix) {
      const field = error.field.startsWith(prefix) ? error.field.slice(prefix.length) : null;
      if (field === null) return false;
      const missing = error.body && error.body.error && error.body.error.missing;
      const message = missing ? `${error.message}: ${missing.join(", ")}` : error.message;
      if (field.startsWith("card")) card.report([{ field: field.replace(/^card\.?/, ""), message, error: true }]);
      else if (field.startsWith("data")) data.report([{ field: field.replace(/^data\.?/, ""), message, error: true }]);
      else return false;
      return true;
    },
  };
}

/** The live preview: theme switch, the card as Teams would draw it, its size. */
function previewPanel() {
  const light = h("input", { type: "radio", name: "preview-theme", id: "preview-light", value: "light", checked: true });
  const dark = h("input", { type: "radio", name: "preview-theme", id: "preview-dark", value: "dark" });
  const surface = h("div", { id: "preview", class: "preview-surface theme-light" });
  const meter = h("meter", { id: "size-meter", min: 0, max: LIMIT, low: LIMIT * 0.75, high: LIMIT * 0.9, optimum: 0, value: 0 });
  const size = h("span", { id: "size-text", text: "0 KB of 28 KB" });
  const notes = h("ul", { class: "problems", id: "renderer-notes", "aria-live": "polite" });
  const status = h("p", { class: "hint", id: "preview-status", "aria-live": "polite" });
  let last = null;
  const theme = () => (dark.checked ? "dark" : "light");
  const draw = () => {
    surface.className = `preview-surface theme-${theme()}`;
    if (!last) return;
    const warnings = renderActivity(surface, last, theme());
    notes.replaceChildren(...warnings.map((w) => h("li", { class: "warning", text: `Renderer: ${w}` })));
  };
  light.addEventListener("change", draw);
  dark.addEventListener("change", draw);
  const element = h("section", { class: "preview-panel", "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title", text: "Preview" }),
    h("div", { class: "choices", role: "radiogroup", "aria-label": "Preview theme" },
      h("span", { class: "choice" }, light, h("label", { for: light.id, text: "Light" })),
      h("span", { class: "choice" }, dark, h("label", { for: dark.id, text: "Dark" }))),
    surface,
    h("div", { class: "meter" }, h("label", { for: meter.id, text: "Size" }), meter, size),
    status, notes);
  return {
    element,
    show(activity, bytes) {
      last = activity;
      this.size(bytes);
      status.textContent = "";
      draw();
    },
    size(bytes) {
      meter.value = Math.min(bytes, LIMIT);
      size.textContent = `${(bytes / 1000).toFixed(1)} KB of 28 KB${bytes > LIMIT ? " — too large for Teams" : ""}`;
      size.classList.toggle("error", bytes > LIMIT);
    },
    problem(text) {
      status.textContent = text;
    },
  };
}

/** The compose page; `mode` is {} (new), {schedule} (edit it) or {notification} (update it). */
export async function composePage(main, mode = {}) {
  const editing = mode.schedule ? await get(`/api/schedules/${encodeURIComponent(mode.schedule)}`) : null;
  const updating = mode.notification || null;
  const preview = previewPanel();
  let timer = null;
  let asked = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(render, 350);
  };
  const message = messageEditor(refresh);
  const whenNow = h("input", { type: "radio", name: "when", id: "when-now", value: "now", checked: !editing });
  const whenSchedule = h("input", { type: "radio", name: "when", id: "when-schedule", value: "schedule", checked: Boolean(editing) });
  let recurrence = null;
  // A new audience changes which zones a recipient-local schedule may use: preview again.
  const audience = updating ? null : audienceEditor(() => {
    if (recurrence && whenSchedule.checked) recurrence.preview();
  });
  recurrence = updating ? null : recurrenceEditor(() => audience.target());
  const errors = h("div", { id: "compose-error", class: "error", role: "alert" });
  const submit = h("button", { type: "submit", id: "submit", class: "primary" });

  async function render() {
    const mine = ++asked;
    const value = message.value();
    if (!value) return preview.problem("Fix the JSON to see the preview.");
    if (!value.card && !(value.text || "").trim()) return preview.problem("Write a message to see the preview.");
    try {
      const answer = await post("/api/render", value);
      if (mine === asked) preview.show(answer.activity, answer.bytes);
    } catch (e) {
      if (mine !== asked) return;
      if (e instanceof ApiError && e.status === 413 && e.body && e.body.error) preview.size(e.body.error.bytes || LIMIT + 1);
      if (!(e instanceof ApiError) || !message.report(e, "")) preview.problem(describe(e));
      else preview.problem("The message has a problem: see the editor.");
    }
  }
  function layout() {
    if (recurrence) recurrence.element.hidden = !whenSchedule.checked;
    submit.textContent = updating ? "Update every copy" : editing ? "Save schedule" : whenSchedule.checked ? "Create schedule" : "Send now";
    if (recurrence && whenSchedule.checked) recurrence.preview();
  }
  whenNow.addEventListener("change", layout);
  whenSchedule.addEventListener("change", layout);

  async function send(event) {
    event.preventDefault();
    errors.textContent = "";
    const value = message.value();
    if (!value) {
      errors.textContent = "The message has a problem: see the editor.";
      return;
    }
    try {
      if (updating) {
        const sure = await confirmDialog("Update every delivered copy?", "Each recipient's copy of this notification is replaced with this message.", "Update");
        if (!sure) return;
        const report = await put(`/api/notifications/${encodeURIComponent(updating)}/message`, value);
        announce(`Updated ${report.updated} copies; ${report.gone} gone, ${report.failed} failed${report.complete ? "" : ", some not reached yet: update again"}`);
        location.hash = `#/notifications/${encodeURIComponent(updating)}`;
        return;
      }
      const target = audience.target();
      if (editing) {
        const saved = await patch(`/api/schedules/${encodeURIComponent(editing.id)}`, { target, message: value, ...recurrence.value(), version: editing.version });
        announce(`Schedule saved; next fire ${saved.nextFire || "none (paused)"}`);
        location.hash = "#/schedules";
      } else if (whenSchedule.checked) {
        const created = await post("/api/schedules", { target, message: value, ...recurrence.value() });
        announce(`Schedule created; next fire ${created.nextFire}`);
        location.hash = "#/schedules";
      } else {
        const count = document.getElementById("audience-recipients");
        const sure = await confirmDialog("Send now?", `This sends the message to ${count ? count.textContent : "the audience"} recipients now.`, "Send");
        if (!sure) return;
        const accepted = await post("/api/notify", { target, message: value });
        announce(accepted.duplicate ? "Already sent before (same idempotency key)" : "Accepted: sending");
        location.hash = `#/notifications/${encodeURIComponent(accepted.notificationId)}`;
      }
    } catch (e) {
      if (e instanceof ApiError && message.report(e, "message.")) {
        errors.textContent = "The message has a problem: see the editor.";
      } else if (e instanceof ApiError && e.field.startsWith("target") && audience) {
        audience.showError(describe(e));
        errors.textContent = describe(e);
      } else {
        errors.textContent = describe(e);
      }
    }
  }

  const title = updating ? "Update a sent notification" : editing ? "Edit schedule" : "Compose";
  const form = h("form", { class: "compose", onsubmit: send, novalidate: true },
    message.element,
    audience ? audience.element : null,
    updating ? null : h("fieldset", { class: "when" }, h("legend", { text: "When" }),
      h("div", { class: "choices" },
        editing ? null : h("span", { class: "choice" }, whenNow, h("label", { for: whenNow.id, text: "Send now" })),
        h("span", { class: "choice" }, whenSchedule, h("label", { for: whenSchedule.id, text: "On a schedule" })))),
    recurrence ? recurrence.element : null,
    errors,
    h("div", { class: "buttons" }, submit));
  main.replaceChildren(heading(title), h("div", { class: "compose-grid" }, form, preview.element));

  if (editing) {
    message.set(editing.message || {});
    audience.set(editing.target);
    recurrence.set(editing);
  } else if (updating) {
    message.set({ text: "" });
  }
  layout();
  render();
}
