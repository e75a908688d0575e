// Run in the page by the browser tests: every visible form control has an accessible name, and
// every visible text of the console's own UI (the card preview, drawn by Microsoft's renderer,
// excepted) meets WCAG 2.1 AA contrast against the background it sits on
// (https://www.w3.org/TR/WCAG21/#contrast-minimum). Returns the problems found.
const problems = [];
const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
const outsidePreview = (e) => !e.closest("#preview");

for (const control of document.querySelectorAll("input, select, textarea, button")) {
  if (!shown(control) || !outsidePreview(control) || control.type === "hidden") continue;
  const named = (control.labels && control.labels.length > 0)
    || control.getAttribute("aria-label")
    || control.getAttribute("aria-labelledby")
    || (control.tagName === "BUTTON" && control.textContent.trim());
  if (!named) problems.push(`no label: ${control.outerHTML.slice(0, 120)}`);
}

function rgba(text) {
  const parts = text.match(/[\d.]+/g).map(Number);
  return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
}
function over(top, bottom) {
  const a = top.a;
  return { r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a), b: top.b * a + bottom.b * (1 - a), a: 1 };
}
function background(element) {
  const layers = [];
  for (let e = element; e; e = e.parentElement) {
    const color = rgba(getComputedStyle(e).backgroundColor);
    if (color.a > 0) layers.push(color);
    if (color.a === 1) break;
  }
  let result = { r: 255, g: 255, b: 255, a: 1 };
  for (const layer of layers.reverse()) result = over(layer, result);
  return result;
}
function luminance(c) {
  const channel = (v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
}
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const element = node.parentElement;
  if (!node.textContent.trim() || !element || seen.has(element)) continue;
  seen.add(element);
  if (!shown(element) || !outsidePreview(element) || element.closest("svg, option, .toast, .skip")) continue;
  const style = getComputedStyle(element);
  if (Number(style.opacity) === 0) continue;
  const back = background(element);
  const fore = over(rgba(style.color), back);
  const [light, dark] = [luminance(fore), luminance(back)].sort((x, y) => y - x);
  const ratio = (light + 0.05) / (dark + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) {
    problems.push(`contrast ${ratio.toFixed(2)}: "${node.textContent.trim().slice(0, 40)}" (${style.color} on ${JSON.stringify(back)})`);
  }
}
return problems;
