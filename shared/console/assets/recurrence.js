// When it fires: every recurrence kind Herald has (once, daily, weekly, monthly), in one IANA
// zone or at each recipient's own time, with the next fires from POST /api/schedules/preview
// shown in UTC, in the schedule's local time and in the browser's.

import { post, query } from "./api.js";
import { browserZone, describe, field, h, localTime, select, uid } from "./dom.js";

const DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];

function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];
  }
}

/** Words for a recurrence, as the schedules list shows it. */
export function describeRecurrence(r, zone) {
  if (!r) return "";
  const where = zone === "recipient" ? "each recipient's time" : zone;
  switch (r.kind) {
    case "once": return `once, ${r.at} (${where})`;
    case "daily": return `daily at ${r.time} (${where})`;
    case "weekly": return `${Array.isArray(r.days) ? r.days.join(", ") : r.days} at ${r.time} (${where})`;
    case "monthly": return `monthly on day ${r.day} at ${r.time} (${where})`;
    default: return JSON.stringify(r);
  }
}

/** The schedule editor; `value()` is {recurrence, timeZone, startDate, endDate} (dates null when unset). */
export function recurrenceEditor(targetOf) {
  const kind = select([["once", "Once"], ["daily", "Every day"], ["weekly", "Every week"], ["monthly", "Every month"]], "daily", { id: "recurrence-kind" });
  const at = h("input", { type: "datetime-local", id: "recurrence-at" });
  const time = h("input", { type: "time", id: "recurrence-time", value: "09:00", required: true });
  const day = h("input", { type: "number", id: "recurrence-day", min: 1, max: 31, value: 1 });
  const dayBoxes = DAYS.map(([value, label]) => {
    const box = h("input", { type: "checkbox", id: `day-${value}`, value, checked: !["sat", "sun"].includes(value) });
    return h("span", { class: "day" }, box, h("label", { for: box.id, text: label }));
  });
  const days = h("fieldset", { class: "days", id: "recurrence-days" }, h("legend", { text: "Days" }), dayBoxes);
  const zoneList = h("datalist", { id: uid("zones") }, zones().map((z) => h("option", { value: z })));
  const fixed = h("input", { type: "radio", name: "zone-mode", id: "zone-fixed", value: "fixed", checked: true });
  const recipient = h("input", { type: "radio", name: "zone-mode", id: "zone-recipient", value: "recipient" });
  const zone = h("input", { id: "recurrence-zone", list: zoneList.id, value: browserZone(), autocomplete: "off" });
  const previewZone = h("input", { id: "preview-zone", list: zoneList.id, value: browserZone(), autocomplete: "off" });
  const start = h("input", { type: "date", id: "recurrence-start" });
  const end = h("input", { type: "date", id: "recurrence-end" });
  const fires = h("div", { id: "fires", class: "fires", "aria-live": "polite" });

  const parts = {
    at: field("Date and time", at),
    time: field("Time of day", time),
    day: field("Day of the month", day, "Months shorter than it fire on their last day."),
    days,
  };
  const zoneFields = h("fieldset", { class: "zone" }, h("legend", { text: "Time zone" }),
    h("div", { class: "choice" }, fixed, h("label", { for: fixed.id, text: "One time zone" })),
    field("Zone (IANA name)", zone),
    h("div", { class: "choice" }, recipient, h("label", { for: recipient.id, text: "Each recipient's own time zone" })),
    field("Preview as if the recipient were in", previewZone, "Whose local time the preview shows."));

  const visible = { once: ["at"], daily: ["time"], weekly: ["days", "time"], monthly: ["day", "time"] };
  function layout() {
    for (const [name, element] of Object.entries(parts)) element.hidden = !visible[kind.value].includes(name);
    zone.closest(".field").hidden = recipient.checked;
    previewZone.closest(".field").hidden = !recipient.checked;
    start.closest(".field").hidden = kind.value === "once";
    end.closest(".field").hidden = kind.value === "once";
  }

  function value() {
    let recurrence;
    switch (kind.value) {
      case "once": recurrence = { kind: "once", at: at.value.slice(0, 16) }; break;
      case "weekly": recurrence = { kind: "weekly", days: dayBoxes.map((d) => d.querySelector("input")).filter((b) => b.checked).map((b) => b.value), time: time.value }; break;
      case "monthly": recurrence = { kind: "monthly", day: Number(day.value), time: time.value }; break;
      default: recurrence = { kind: "daily", time: time.value };
    }
    const result = { recurrence, timeZone: recipient.checked ? "recipient" : zone.value.trim() };
    // Always named, null when empty: an edit that empties a date clears it.
    const bounded = kind.value !== "once";
    result.startDate = (bounded && start.value) || null;
    result.endDate = (bounded && end.value) || null;
    return result;
  }

  let timer = null;
  let asked = 0;
  async function preview() {
    const mine = ++asked;
    const rule = value();
    const target = targetOf ? targetOf() : undefined;
    const body = target ? { ...rule, target } : rule;
    const params = { count: 5, timeZone: rule.timeZone === "recipient" ? previewZone.value.trim() : "" };
    try {
      const answer = await post(`/api/schedules/preview${query(params)}`, body);
      if (mine !== asked) return;
      if (answer.fires.length === 0) {
        fires.replaceChildren(h("p", { class: "error", text: "This schedule would never fire." }));
        return;
      }
      fires.replaceChildren(
        h("h3", { text: `Next fires (${answer.timeZone})` }),
        h("ol", { class: "fire-list" }, answer.fires.map((f) => h("li", {},
          h("span", { class: "utc", text: `${f.utc.replace("T", " ").replace("Z", "")} UTC` }),
          h("span", { class: "local", text: `${f.local.slice(0, 16).replace("T", " ")} ${f.timeZone}` }),
          h("span", { class: "mine", text: `your time: ${localTime(f.utc)}` })))));
    } catch (e) {
      if (mine !== asked) return;
      fires.replaceChildren(h("p", { class: "error", text: describe(e) }));
    }
  }
  function changed() {
    layout();
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  }
  const element = h("fieldset", { class: "recurrence" }, h("legend", { text: "Schedule" }),
    field("Repeat", kind), Object.values(parts), zoneFields,
    h("div", { class: "dates" }, field("First day (optional)", start), field("Last day (optional)", end)),
    zoneList, fires);
  element.addEventListener("input", changed);
  element.addEventListener("change", changed);
  layout();

  return {
    element,
    value,
    preview: changed,
    set(schedule) {
      const r = schedule.recurrence;
      kind.value = r.kind;
      if (r.at) at.value = r.at.slice(0, 16);
      if (r.time) time.value = r.time.length === 4 ? `0${r.time}` : r.time;
      if (r.day) day.value = r.day;
      if (r.days) {
        const chosen = Array.isArray(r.days) ? r.days : r.days === "weekends" ? ["sat", "sun"] : ["mon", "tue", "wed", "thu", "fri"];
        for (const d of dayBoxes) {
          const box = d.querySelector("input");
          box.checked = chosen.map((c) => c.slice(0, 3).toLowerCase()).includes(box.value);
        }
      }
      recipient.checked = schedule.timeZone === "recipient";
      fixed.checked = !recipient.checked;
      if (!recipient.checked) zone.value = schedule.timeZone;
      start.value = schedule.startDate || "";
      end.value = schedule.endDate || "";
      changed();
    },
  };
}
