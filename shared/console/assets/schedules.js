// Schedules: list, pause and resume, edit, delete, and the next fires of each.

import { browserZone, confirmDialog, describe, h, heading, localTime, table, announce } from "./dom.js";
import { del, get, patch, query } from "./api.js";
import { describeTarget } from "./notifications.js";
import { describeRecurrence } from "./recurrence.js";

export async function schedulesPage(main) {
  const holder = h("div", { id: "schedules" });
  main.replaceChildren(heading("Schedules"),
    h("p", {}, h("a", { href: "#/compose", text: "New schedule" }), " — compose a message and choose \"On a schedule\"."),
    holder);
  let items = [];

  async function nextFires(schedule, row, button) {
    const zone = schedule.timeZone === "recipient" ? browserZone() : "";
    try {
      const answer = await get(`/api/schedules/${encodeURIComponent(schedule.id)}/preview${query({ count: 5, timeZone: zone })}`);
      const list = h("ol", { class: "fire-list", id: `fires-${schedule.id}` }, answer.fires.map((f) =>
        h("li", {}, h("span", { class: "utc", text: `${f.utc.replace("T", " ").replace("Z", "")} UTC` }),
          h("span", { class: "local", text: `${f.local.slice(0, 16).replace("T", " ")} ${f.timeZone}` }))));
      row.querySelector(".fires-cell").replaceChildren(answer.fires.length ? list : h("span", { text: "never fires again" }));
    } catch (e) {
      row.querySelector(".fires-cell").replaceChildren(h("span", { class: "error", text: describe(e) }));
    }
    button.focus();
  }
  async function setPaused(schedule, paused) {
    try {
      await patch(`/api/schedules/${encodeURIComponent(schedule.id)}`, { paused, version: schedule.version });
      announce(paused ? "Schedule paused" : "Schedule resumed");
    } catch (e) {
      announce(describe(e));
    }
    await load();
  }
  async function remove(schedule) {
    const sure = await confirmDialog("Delete this schedule?", "It will not fire again. Notifications it already sent stay.", "Delete");
    if (!sure) return;
    try {
      await del(`/api/schedules/${encodeURIComponent(schedule.id)}`);
      announce("Schedule deleted");
    } catch (e) {
      announce(describe(e));
    }
    await load();
  }
  const draw = () => {
    if (items.length === 0) {
      holder.replaceChildren(h("p", { text: "No schedule yet." }));
      return;
    }
    const t = table("Schedules", [
      { label: "When", cell: (s) => s.label || describeRecurrence(s.recurrence, s.timeZone) },
      { label: "Audience", cell: (s) => describeTarget(s.target) },
      { label: "Next fire", cell: (s) => (s.paused ? h("span", { class: "status paused", text: "paused" }) : localTime(s.nextFire)) },
      { label: "Fired", cell: (s) => `${s.fired}${s.missed ? ` (${s.missed} missed)` : ""}` },
      { label: "Next fires", cell: () => h("div", { class: "fires-cell" }) },
      { label: "Actions", cell: (s) => h("div", { class: "row-actions" },
        h("button", { type: "button", class: "show-fires", onclick: (e) => nextFires(s, e.target.closest("tr"), e.target) }, "Next fires"),
        h("button", { type: "button", class: "pause-resume", onclick: () => setPaused(s, !s.paused) }, s.paused ? "Resume" : "Pause"),
        h("a", { class: "button edit", href: `#/schedules/${encodeURIComponent(s.id)}/edit`, text: "Edit" }),
        h("button", { type: "button", class: "danger delete", onclick: () => remove(s) }, "Delete")) },
    ], items, { class: "list", id: "schedules-table" });
    holder.replaceChildren(t);
  };
  async function load() {
    try {
      const page = await get("/api/schedules?limit=1000");
      items = page.items;
      draw();
    } catch (e) {
      holder.replaceChildren(h("p", { class: "error", text: describe(e) }));
    }
  }
  await load();
}
