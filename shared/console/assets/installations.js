// Installations: every conversation that has the bot, filtered by type, tenant, team and status,
// with who blocked or uninstalled it, when and why, and their time zones and locales.

import { get, query } from "./api.js";
import { conversationName } from "./audience.js";
import { describe, field, h, heading, localTime, select, table } from "./dom.js";

export async function installationsPage(main) {
  const type = select([["", "Any type"], ["personal", "Personal"], ["groupChat", "Group chat"], ["channel", "Channel"]], "", { id: "filter-type" });
  const status = select([["", "Any status"], ["active", "Active"], ["blocked", "Blocked"], ["uninstalled", "Uninstalled"], ["optedOut", "Opted out"], ["archived", "Archived"]], "", { id: "filter-status" });
  const tenant = h("input", { id: "filter-tenant", autocomplete: "off" });
  const team = h("input", { id: "filter-team", autocomplete: "off" });
  const results = h("div", { id: "installations" });
  const more = h("button", { type: "button", id: "installations-more", hidden: true }, "Load more");
  const report = h("div", { class: "buttons", role: "group", "aria-label": "Reports" },
    h("button", { type: "button", id: "report-blocked", onclick: () => preset("blocked") }, "Who blocked the bot"),
    h("button", { type: "button", id: "report-uninstalled", onclick: () => preset("uninstalled") }, "Who uninstalled it"));
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
    field("Type", type), field("Status", status), field("Tenant id", tenant), field("Team id", team),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  main.replaceChildren(heading("Installations"), report, form, results, more);

  let items = [];
  let cursor = null;
  function preset(value) {
    status.value = value;
    load();
  }
  const params = () => ({ type: type.value, status: status.value, tenantId: tenant.value.trim(), teamId: team.value.trim(), limit: 100 });
  const draw = () => {
    const reportMode = status.value === "blocked" || status.value === "uninstalled" || status.value === "optedOut";
    results.replaceChildren(items.length === 0 ? h("p", { text: "No installation matches." }) : table(`Installations (${items.length}${cursor ? "+" : ""})`, [
      { label: "Conversation", cell: (i) => h("span", {}, conversationName(i), h("br"), h("code", { text: i.conversationId })) },
      { label: "Type", cell: (i) => i.conversationType },
      { label: "Tenant", cell: (i) => h("code", { text: i.tenantId }) },
      { label: "Status", cell: (i) => h("span", { class: `status ${i.status}`, text: i.status }) },
      { label: reportMode ? "Why" : "Status reason", cell: (i) => i.statusReason || "" },
      { label: reportMode ? "When" : "Status since", cell: (i) => localTime(i.statusChangedAt) },
      { label: "Time zone", cell: (i) => i.timeZoneOverride || i.timeZone || "" },
      { label: "Locale", cell: (i) => i.locale || "" },
      { label: "Installed", cell: (i) => localTime(i.installedAt) },
      { label: "Last seen", cell: (i) => localTime(i.lastSeenAt) },
    ], items, { class: "list", id: "installations-table" }));
    more.hidden = !cursor;
  };
  async function load(after) {
    try {
      const page = await get(`/api/installations${query({ ...params(), cursor: after })}`);
      items = after ? items.concat(page.items) : page.items;
      cursor = page.nextCursor;
      draw();
    } catch (e) {
      results.replaceChildren(h("p", { class: "error", text: describe(e) }));
    }
  }
  more.addEventListener("click", () => load(cursor));
  await load();
}
