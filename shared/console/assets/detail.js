// One notification: outcome chart, delivery over time, read and action counts, the per-recipient
// table with filters, CSV export, and update / retract.

import { all, call, del, get } from "./api.js";
import { GROUPS, barChart, progressBar, timeline } from "./chart.js";
import { announce, confirmDialog, describe, field, fill, h, heading, localTime, select, table } from "./dom.js";
import { describeTarget } from "./notifications.js";

const REFRESH_MS = 1500;
const STATUSES = ["sent", "pending", "sending", "installing", "failed", "blocked", "uninstalled", "notFound", "tooLarge", "unresolved",
  "skippedOptedOut", "skippedUninstalled", "skippedArchived", "skippedBlocked", "installForbidden", "installUserNotFound",
  "installAppNotInCatalog", "installTimedOut", "retracted"];

/** The whole per-recipient report as the API exports it (Accept: text/csv). */
async function deliveriesCsv(id) {
  const answer = await call("GET", `/api/notifications/${encodeURIComponent(id)}/deliveries`, undefined, "text/csv");
  return answer.text;
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Read receipts (personal chats only) and button presses per verb. */
function engagement(n) {
  const items = [h("li", { text: `Read by ${n.read ?? 0}` })];
  for (const [verb, count] of Object.entries(n.actions || {})) items.push(h("li", { text: `${verb}: ${count}` }));
  return h("section", { class: "engagement" }, h("h2", { text: "Reads and actions" }), h("ul", {}, items));
}

export async function detailPage(main, id, signal) {
  const path = `/api/notifications/${encodeURIComponent(id)}`;
  const summary = h("div", { class: "summary" });
  const charts = h("div", { class: "charts" });
  const statusFilter = select([["", "Every status"], ...STATUSES.map((s) => [s, s])], "", { id: "delivery-status" });
  const textFilter = h("input", { type: "search", id: "delivery-filter", autocomplete: "off" });
  const rows = h("div", { id: "deliveries" });
  const exportButton = h("button", { type: "button", id: "export-csv" }, "Export CSV");
  const updateLink = h("a", { class: "button", id: "update", href: `#/notifications/${encodeURIComponent(id)}/update` }, "Update");
  const retractButton = h("button", { type: "button", class: "danger", id: "retract" }, "Retract");
  const outcome = h("p", { id: "edit-outcome", role: "status" });
  let notification;
  try {
    notification = await get(path);
  } catch (e) {
    main.replaceChildren(heading("Notification"), h("p", { class: "error", text: describe(e) }));
    return;
  }
  main.replaceChildren(heading("Notification"),
    summary,
    h("div", { class: "buttons" }, updateLink, retractButton, exportButton),
    outcome,
    charts,
    h("section", { "aria-labelledby": "deliveries-title" },
      h("h2", { id: "deliveries-title", text: "Recipients" }),
      h("div", { class: "filters" }, field("Status", statusFilter), field("Recipient or conversation contains", textFilter)),
      rows));

  let deliveries = [];
  const drawSummary = () => {
    const n = notification;
    summary.replaceChildren(
      h("dl", { class: "facts" },
        h("dt", { text: "Id" }), h("dd", {}, h("code", { text: n.notificationId })),
        h("dt", { text: "Status" }), h("dd", {}, h("span", { id: "notification-status", class: `status ${n.status}`, text: n.status })),
        h("dt", { text: "Audience" }), h("dd", { text: describeTarget(n.target) }),
        h("dt", { text: "Created" }), h("dd", { text: localTime(n.createdAt) }),
        h("dt", { text: "Source" }), h("dd", { text: n.source }),
        n.possibleDuplicates ? h("dt", { text: "Possible duplicates" }) : null,
        n.possibleDuplicates ? h("dd", { text: String(n.possibleDuplicates) }) : null),
      progressBar(n.counts));
    const nonZero = Object.entries(n.counts).filter(([, v]) => v > 0);
    const groupOf = (status) => (GROUPS.find((gr) => gr.statuses.includes(status)) || { key: "failed" }).key;
    const ended = deliveries.filter((d) => d.status !== "pending" && d.status !== "sending" && d.updatedAt).map((d) => new Date(d.updatedAt));
    fill(charts,
      h("section", {}, h("h2", { text: "Outcomes" }), barChart("Deliveries by outcome", nonZero.map(([s, v]) => [s, v, groupOf(s)]))),
      h("section", {}, h("h2", { text: "Delivery over time" }), timeline("Deliveries ended over time", ended)),
      engagement(n));
  };
  const drawRows = () => {
    const needle = textFilter.value.trim().toLowerCase();
    const shown = deliveries.filter((d) => (!statusFilter.value || d.status === statusFilter.value)
      && (!needle || `${d.name || ""} ${d.recipient || ""} ${d.conversationId || ""} ${d.deliveryId}`.toLowerCase().includes(needle)));
    rows.replaceChildren(table(`Recipients (${shown.length} of ${deliveries.length})`, [
      { label: "Conversation", cell: (d) => h("code", { text: d.conversationId || d.memberId || d.deliveryId }) },
      { label: "Type", cell: (d) => d.conversationType },
      { label: "Recipient", cell: (d) => d.name || d.recipient || "" },
      { label: "Status", cell: (d) => h("span", { class: `status ${d.status}`, text: d.status }) },
      { label: "Attempts", cell: (d) => String(d.attempts) },
      { label: "Read", cell: (d) => (d.read === null || d.read === undefined ? "" : d.readAt ? localTime(d.readAt) : "not yet") },
      { label: "Error", cell: (d) => d.error || "" },
      { label: "Updated", cell: (d) => localTime(d.updatedAt) },
    ], shown.slice(0, 500), { class: "list", id: "deliveries-table" }));
  };
  statusFilter.addEventListener("change", drawRows);
  textFilter.addEventListener("input", drawRows);

  exportButton.addEventListener("click", async () => {
    try {
      download(`${id}-deliveries.csv`, await deliveriesCsv(id));
      announce("CSV downloaded");
    } catch (e) {
      announce(`Export failed: ${describe(e)}`);
    }
  });
  retractButton.addEventListener("click", async () => {
    const sure = await confirmDialog("Retract every delivered copy?", "Teams removes the message from every conversation it reached. This cannot be undone.", "Retract");
    if (!sure) return retractButton.focus();
    try {
      const report = await del(`${path}/message`);
      outcome.textContent = `Retracted ${report.deleted} copies; ${report.gone} already gone, ${report.failed} failed${report.complete ? "" : "; some were not reached in time: retract again"}.`;
    } catch (e) {
      outcome.textContent = `Retract failed: ${describe(e)}`;
    }
    retractButton.focus();
  });

  const reload = async () => {
    notification = await get(path);
    deliveries = await all(`${path}/deliveries`, {}, 5000);
    if (signal.aborted) return;
    drawSummary();
    drawRows();
  };
  await reload();
  const tick = async () => {
    if (signal.aborted) return;
    if (notification.status !== "done" && !document.hidden) {
      try {
        await reload();
      } catch {
        // Tried again on the next tick.
      }
    }
    if (!signal.aborted && notification.status !== "done") setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}
