// Notifications, newest first, with progress bars that follow the sending live.

import { get, query } from "./api.js";
import { describe, h, heading, localTime, table } from "./dom.js";
import { progressBar } from "./chart.js";

/** A target in words. */
export function describeTarget(t) {
  if (!t) return "";
  switch (t.kind) {
    case "all": return "Everyone";
    case "type": return `All ${t.type} conversations`;
    case "tenant": return `Tenant ${t.tenantId}`;
    case "team": return `Team ${t.teamId}, channel ${t.channel || "General"}`;
    case "teamMembers": return `Members of team ${t.teamId}`;
    case "person": return `Person ${t.aadObjectId}`;
    case "users": return `${t.aadObjectIds.length} people`;
    case "conversations": return `${t.ids.length} conversations`;
    default: return t.kind;
  }
}

const REFRESH_MS = 1500;

export async function notificationsPage(main, signal) {
  const holder = h("div", { id: "notifications" });
  const more = h("button", { type: "button", id: "load-more", hidden: true }, "Load more");
  main.replaceChildren(heading("Notifications"),
    h("p", { class: "hint", text: "Every notification, newest first; progress updates while they are sending." }),
    holder, more);
  let items = [];
  let cursor = null;

  const draw = () => {
    holder.replaceChildren(items.length === 0
      ? h("p", { text: "Nothing sent yet. " }, h("a", { href: "#/compose", text: "Compose a notification" }))
      : table("Notifications", [
        { label: "Created", cell: (n) => h("a", { href: `#/notifications/${encodeURIComponent(n.notificationId)}`, text: localTime(n.createdAt) }) },
        { label: "Audience", cell: (n) => describeTarget(n.target) },
        { label: "Source", cell: (n) => n.source },
        { label: "Status", cell: (n) => h("span", { class: `status ${n.status}`, text: n.status }) },
        { label: "Progress", cell: (n) => progressBar(n.counts) },
      ], items, { class: "list", id: "notifications-table" }));
    more.hidden = !cursor;
  };
  const load = async (after) => {
    const page = await get(`/api/notifications${query({ limit: 50, cursor: after })}`);
    return page;
  };
  try {
    const first = await load();
    items = first.items;
    cursor = first.nextCursor;
    draw();
  } catch (e) {
    holder.replaceChildren(h("p", { class: "error", text: describe(e) }));
    return;
  }
  more.addEventListener("click", async () => {
    const page = await load(cursor);
    items = items.concat(page.items);
    cursor = page.nextCursor;
    draw();
  });
  // Follow the ones still moving, until the page is left.
  const tick = async () => {
    if (signal.aborted) return;
    const moving = items.filter((n) => n.status !== "done");
    if (moving.length && !document.hidden) {
      try {
        const fresh = await Promise.all(moving.map((n) => get(`/api/notifications/${encodeURIComponent(n.notificationId)}`)));
        const byId = new Map(fresh.map((n) => [n.notificationId, n]));
        items = items.map((n) => byId.get(n.notificationId) || n);
        if (!signal.aborted) draw();
      } catch {
        // A failed refresh is tried again on the next tick.
      }
    }
    if (!signal.aborted) setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}
