// Who gets it: every target kind Herald has, with pickers fed by the installations list, and
// the expected recipient count from POST /api/audience (opted-out, blocked and uninstalled
// counted apart) before anything is sent.

import { all, post } from "./api.js";
import { describe, field, h, select, setError, uid } from "./dom.js";

const KINDS = [
  ["all", "Everyone who installed the bot"],
  ["type", "One kind of conversation"],
  ["tenant", "One tenant"],
  ["team", "Channels of a team"],
  ["teamMembers", "Each member of a team, 1:1"],
  ["person", "One person, 1:1"],
  ["users", "People by Microsoft Entra id, 1:1"],
  ["conversations", "Chosen conversations"],
];

const lines = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

/** Who a conversation is, in words. */
export function conversationName(i) {
  if (i.conversationType === "channel") {
    return `${(i.team && i.team.name) || "Team"} › ${(i.channel && i.channel.name) || "channel"}`;
  }
  if (i.conversationType === "personal") return (i.user && (i.user.name || i.user.aadObjectId)) || i.conversationId;
  return `Group chat ${i.conversationId}`;
}

/** The audience editor: `target()` is the API's target object, `set(target)` fills it in. */
export function audienceEditor(onChange) {
  const kind = select(KINDS, "all", { id: "target-kind" });
  const type = select([["personal", "Personal chats"], ["groupChat", "Group chats"], ["channel", "Channels"]], "personal", { id: "target-type" });
  const tenantsList = h("datalist", { id: uid("tenants") });
  const teamsList = h("datalist", { id: uid("teams") });
  const tenant = h("input", { id: "target-tenant", list: tenantsList.id, autocomplete: "off" });
  const team = h("input", { id: "target-team", list: teamsList.id, autocomplete: "off" });
  const channel = h("input", { id: "target-channel", value: "General" });
  const aad = h("input", { id: "target-aad", autocomplete: "off" });
  const ids = h("textarea", { id: "target-ids", rows: 4, class: "code", spellcheck: "false" });
  const estimate = h("div", { id: "audience-estimate", class: "estimate", "aria-live": "polite" });
  const picker = h("div", { class: "picker", hidden: true });
  let installations = null;

  const parts = {
    type: field("Conversation kind", type),
    tenant: field("Tenant id", tenant, "The Microsoft Entra tenant id (a GUID)."),
    team: field("Team id", team, "The team's id (19:...@thread.tacv2), from the installations list."),
    channel: field("Channel", channel, "General, a channel name, or * for every recorded channel."),
    aad: field("Person (Microsoft Entra object id)", aad),
    ids: field("Ids, one per line", ids),
  };
  const visible = {
    all: [], type: ["type"], tenant: ["tenant"], team: ["team", "tenant", "channel"], teamMembers: ["team", "tenant"],
    person: ["tenant", "aad"], users: ["tenant", "ids", "picker"], conversations: ["ids", "picker"],
  };
  const pickButton = h("button", { type: "button", id: "pick-installations", onclick: () => openPicker() }, "Pick from installations");

  function target() {
    const k = kind.value;
    const tenantId = tenant.value.trim();
    switch (k) {
      case "type": return { kind: k, type: type.value };
      case "tenant": return { kind: k, tenantId };
      case "team": return { kind: k, teamId: team.value.trim(), channel: channel.value.trim() || "General", ...(tenantId ? { tenantId } : {}) };
      case "teamMembers": return { kind: k, teamId: team.value.trim(), ...(tenantId ? { tenantId } : {}) };
      case "person": return { kind: k, tenantId, aadObjectId: aad.value.trim() };
      case "users": return { kind: k, tenantId, aadObjectIds: lines(ids.value) };
      case "conversations": return { kind: k, ids: lines(ids.value) };
      default: return { kind: "all" };
    }
  }

  function layout() {
    const show = visible[kind.value] || [];
    for (const [name, element] of Object.entries(parts)) element.hidden = !show.includes(name);
    pickButton.hidden = !show.includes("picker");
    parts.ids.querySelector("label").textContent = kind.value === "users" ? "Microsoft Entra object ids, one per line" : "Conversation ids, one per line";
    if (!show.includes("picker")) picker.hidden = true;
  }

  async function loadInstallations() {
    if (!installations) {
      installations = await all("/api/installations", { status: "active" }, 5000);
      const tenants = [...new Set(installations.map((i) => i.tenantId))];
      tenantsList.replaceChildren(...tenants.map((t) => h("option", { value: t })));
      const teams = new Map();
      for (const i of installations) if (i.team) teams.set(i.team.id, i.team.name || i.team.id);
      teamsList.replaceChildren(...[...teams].map(([id, name]) => h("option", { value: id, label: name })));
    }
    return installations;
  }

  async function openPicker() {
    const list = (await loadInstallations()).filter((i) => kind.value !== "users" || (i.conversationType === "personal" && i.user && i.user.aadObjectId));
    const filter = h("input", { type: "search", id: "picker-filter", placeholder: "Filter by name or id" });
    const rows = h("ul", { class: "picker-list" });
    const chosen = new Set(lines(ids.value));
    const value = (i) => (kind.value === "users" ? i.user.aadObjectId : i.conversationId);
    const draw = () => {
      const needle = filter.value.toLowerCase();
      rows.replaceChildren(...list
        .filter((i) => `${conversationName(i)} ${value(i)}`.toLowerCase().includes(needle))
        .slice(0, 200)
        .map((i) => {
          const box = h("input", { type: "checkbox", id: uid("pick"), checked: chosen.has(value(i)) });
          box.addEventListener("change", () => {
            if (box.checked) chosen.add(value(i));
            else chosen.delete(value(i));
            ids.value = [...chosen].join("\n");
            if (kind.value === "users" && box.checked && !tenant.value) tenant.value = i.tenantId;
            changed();
          });
          return h("li", {}, box, h("label", { for: box.id }, `${conversationName(i)} `, h("code", { text: value(i) })));
        }));
    };
    filter.addEventListener("input", draw);
    picker.replaceChildren(field("Filter installations", filter), rows,
      h("button", { type: "button", onclick: () => { picker.hidden = true; pickButton.focus(); } }, "Done"));
    picker.hidden = false;
    draw();
    filter.focus();
  }

  let timer = null;
  let asked = 0;
  async function count() {
    const mine = ++asked;
    estimate.replaceChildren(h("p", { class: "hint", text: "Counting recipients…" }));
    setError(kind, "");
    try {
      const answer = await post("/api/audience", { target: target() });
      if (mine !== asked) return;
      const lower = answer.complete ? "" : "at least ";
      estimate.replaceChildren(
        h("p", { class: "count" }, h("strong", { id: "audience-recipients", text: `${lower}${answer.recipients}` }), answer.recipients === 1 ? " recipient will get it" : " recipients will get it"),
        h("ul", { class: "skipped" },
          h("li", { text: `${answer.optedOut} opted out` }),
          h("li", { text: `${answer.blocked} blocked the bot` }),
          h("li", { text: `${answer.uninstalled} uninstalled` }),
          answer.archived ? h("li", { text: `${answer.archived} in archived teams` }) : null,
          answer.unresolved ? h("li", { text: `${answer.unresolved} without a conversation with the bot` }) : null),
      );
    } catch (e) {
      if (mine !== asked) return;
      estimate.replaceChildren(h("p", { class: "error", text: `Cannot count: ${describe(e)}` }));
    }
  }
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(count, 400);
    if (onChange) onChange();
  }
  for (const control of [kind, type, tenant, team, channel, aad, ids]) control.addEventListener("input", changed);
  kind.addEventListener("change", () => {
    layout();
    if (kind.value !== "all" && kind.value !== "type") loadInstallations().catch(() => {});
  });

  const element = h("fieldset", { class: "audience" },
    h("legend", { text: "Audience" }),
    field("Send to", kind),
    Object.values(parts), pickButton, picker, tenantsList, teamsList, estimate);
  layout();
  changed();

  return {
    element,
    target,
    recount: count,
    set(t) {
      kind.value = t.kind;
      type.value = t.type || "personal";
      tenant.value = t.tenantId || "";
      team.value = t.teamId || "";
      channel.value = t.channel || "General";
      aad.value = t.aadObjectId || "";
      ids.value = (t.aadObjectIds || t.ids || []).join("\n");
      layout();
      changed();
    },
    showError(message) {
      setError(kind, message);
    },
  };
}
