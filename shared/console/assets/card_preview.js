// The live preview, drawn by Microsoft's Adaptive Cards renderer (npm adaptivecards, vendored
// under vendor/) with host configs close to Teams' light and dark themes
// (https://learn.microsoft.com/adaptive-cards/rendering-cards/host-config).

import { announce, h } from "./dom.js";

const PALETTES = {
  light: {
    background: "#ffffff", emphasis: "#f5f5f5", text: "#242424", subtle: "#616161", accent: "#5b5fc7",
    good: "#0e700e", warning: "#835b00", attention: "#c4314b", separator: "#e0e0e0",
    accentBackground: "#e8ebfa", goodBackground: "#e7f2da", attentionBackground: "#fcf4f6", warningBackground: "#fbf6d9",
  },
  dark: {
    background: "#292929", emphasis: "#1f1f1f", text: "#ffffff", subtle: "#d6d6d6", accent: "#7f85f5",
    good: "#92c353", warning: "#f8d22a", attention: "#f9526b", separator: "#3d3d3d",
    accentBackground: "#2f2f4a", goodBackground: "#0d2e0d", attentionBackground: "#3e1f25", warningBackground: "#463100",
  },
};

function foreground(p) {
  const pair = (color) => ({ default: color, subtle: color });
  return {
    default: { default: p.text, subtle: p.subtle },
    dark: pair(p.text),
    light: pair(p.subtle),
    accent: pair(p.accent),
    good: pair(p.good),
    warning: pair(p.warning),
    attention: pair(p.attention),
  };
}

/** A Teams-like host config for `theme` ("light" or "dark"). */
export function hostConfig(theme) {
  const p = PALETTES[theme] || PALETTES.light;
  const style = (backgroundColor) => ({ backgroundColor, foregroundColors: foreground(p) });
  return {
    fontFamily: "'Segoe UI', system-ui, -apple-system, 'Helvetica Neue', sans-serif",
    supportsInteractivity: true,
    spacing: { small: 8, default: 12, medium: 16, large: 20, extraLarge: 24, padding: 16 },
    separator: { lineThickness: 1, lineColor: p.separator },
    fontSizes: { small: 12, default: 14, medium: 16, large: 18, extraLarge: 24 },
    fontWeights: { lighter: 300, default: 400, bolder: 600 },
    imageSizes: { small: 32, medium: 52, large: 100 },
    containerStyles: {
      default: style(p.background),
      emphasis: style(p.emphasis),
      accent: style(p.accentBackground),
      good: style(p.goodBackground),
      attention: style(p.attentionBackground),
      warning: style(p.warningBackground),
    },
    actions: {
      maxActions: 6, spacing: "default", buttonSpacing: 8, actionsOrientation: "horizontal", actionAlignment: "stretch",
      showCard: { actionMode: "inline", inlineTopMargin: 12 },
    },
    adaptiveCard: { allowCustomStyle: true },
    factSet: { title: { weight: "bolder", wrap: true, maxWidth: 150 }, value: { wrap: true }, spacing: 8 },
  };
}

/** What to say about an action a reader would take; the preview sends nothing. */
function describeAction(action) {
  const type = action.getJsonTypeName();
  const title = action.title ? `"${action.title}"` : "";
  if (type === "Action.Execute") return `${type} ${title} would reach the bot with verb "${action.verb || ""}"`;
  if (type === "Action.OpenUrl") return `${type} ${title} would open ${action.url || ""}`;
  return `${type} ${title} would reach the bot`;
}

/** Draws `activity` (as Herald renders it) into `container`; returns the renderer's warnings
 *  [{field, message}] about the card, with the path of the element they are about. */
export function renderActivity(container, activity, theme) {
  const AC = globalThis.AdaptiveCards;
  const bubble = h("div", { class: `bubble theme-${theme}` });
  const warnings = [];
  if (activity.text) bubble.append(h("p", { class: "bubble-text", text: activity.text }));
  for (const attachment of activity.attachments || []) {
    if (!AC) {
      bubble.append(h("p", { class: "error", text: "The Adaptive Cards renderer did not load." }));
      break;
    }
    const card = new AC.AdaptiveCard();
    card.hostConfig = new AC.HostConfig(hostConfig(theme));
    card.onExecuteAction = (action) => announce(describeAction(action));
    const context = new AC.SerializationContext();
    card.parse(attachment.content, context);
    for (let i = 0; i < context.eventCount; i++) warnings.push(context.getEventAt(i).message);
    for (const event of card.validateProperties().validationEvents) warnings.push(event.message);
    const rendered = card.render();
    if (rendered) bubble.append(rendered);
  }
  container.replaceChildren(bubble);
  return warnings;
}
