// A JSON text area that says where its mistakes are: a syntax error by line and column, and a
// field the API or the renderer names (`card.body[2].type`) by the line that holds it, with a
// button that puts the cursor there.

import { h, uid } from "./dom.js";

/** Line and column (1-based) of a character offset. */
export function lineColumn(text, offset) {
  const before = text.slice(0, Math.max(0, offset));
  const lines = before.split("\n");
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

/** The offset of a syntax error in `JSON.parse`'s message, if it gives one. */
function syntaxOffset(text, message) {
  const position = /position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  const lineCol = /line (\d+) column (\d+)/.exec(message);
  if (lineCol) {
    const lines = text.split("\n").slice(0, Number(lineCol[1]) - 1);
    return lines.reduce((sum, l) => sum + l.length + 1, 0) + Number(lineCol[2]) - 1;
  }
  return text.length;
}

/** `body[2].type` -> ["body", 2, "type"]. */
export function pathOf(field) {
  const parts = [];
  for (const match of String(field).matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    parts.push(match[2] !== undefined ? Number(match[2]) : match[1]);
  }
  return parts;
}

/** The offset where the value at `path` starts in JSON `text` (as deep as it can go). */
export function locate(text, path) {
  let i = 0;
  const space = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const skipString = () => {
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    space();
    const open = text[i];
    if (open === '"') return skipString();
    if (open === "{" || open === "[") {
      const close = open === "{" ? "}" : "]";
      i++;
      let depth = 1;
      while (i < text.length && depth > 0) {
        if (text[i] === '"') {
          skipString();
          continue;
        }
        if (text[i] === "{" || text[i] === "[") depth++;
        if (text[i] === "}" || text[i] === "]") depth--;
        i++;
      }
      return close;
    }
    while (i < text.length && !/[,}\]\s]/.test(text[i])) i++;
    return null;
  };
  let found = 0;
  for (const step of path) {
    space();
    found = i;
    if (typeof step === "number" && text[i] === "[") {
      i++;
      for (let n = 0; n < step; n++) {
        skipValue();
        space();
        if (text[i] !== ",") return found;
        i++;
      }
      space();
      found = i;
    } else if (typeof step === "string" && text[i] === "{") {
      i++;
      let hit = false;
      while (i < text.length) {
        space();
        if (text[i] !== '"') return found;
        const start = i;
        skipString();
        let key;
        try {
          key = JSON.parse(text.slice(start, i));
        } catch {
          return found;
        }
        space();
        i++; // ':'
        space();
        if (key === step) {
          found = start;
          hit = true;
          break;
        }
        skipValue();
        space();
        if (text[i] !== ",") return found;
        i++;
      }
      if (!hit) return found;
    } else {
      return found;
    }
  }
  return found;
}

/** A labelled JSON editor; `problems` lists what is wrong and where. */
export function jsonEditor({ label, id, rows = 16, hint, onInput }) {
  const area = h("textarea", {
    id, rows, spellcheck: "false", autocomplete: "off", autocapitalize: "off", class: "code",
    "aria-describedby": `${id}-problems`,
  });
  const problems = h("ul", { class: "problems", id: `${id}-problems`, "aria-live": "polite" });
  const labelId = uid("label");
  const element = h("div", { class: "field json-editor" },
    h("label", { for: id, id: labelId, text: label }),
    hint ? h("p", { class: "hint", text: hint }) : null,
    area, problems);
  area.addEventListener("input", () => onInput && onInput());

  const goTo = (offset) => {
    area.focus();
    area.setSelectionRange(offset, Math.min(area.value.length, offset + 1));
  };
  const show = (list) => {
    problems.replaceChildren();
    area.toggleAttribute("aria-invalid", list.some((p) => p.error));
    for (const problem of list) {
      const where = lineColumn(area.value, problem.offset);
      problems.append(h("li", { class: problem.error ? "error" : "warning" },
        h("button", { type: "button", class: "link", onclick: () => goTo(problem.offset) }, `Line ${where.line}, column ${where.column}`),
        `: ${problem.message}`));
    }
  };
  return {
    element,
    area,
    get text() {
      return area.value;
    },
    set text(value) {
      area.value = value;
    },
    /** {value} (undefined when empty), or null with the error shown when the text is not JSON. */
    parse() {
      if (!area.value.trim()) return { value: undefined };
      try {
        return { value: JSON.parse(area.value) };
      } catch (e) {
        show([{ error: true, offset: syntaxOffset(area.value, e.message), message: `not valid JSON: ${e.message}` }]);
        return null;
      }
    },
    /** Shows problems at [{field path within this editor's JSON, message, error}]. */
    report(list) {
      show(list.map((p) => ({ ...p, offset: p.offset ?? locate(area.value, pathOf(p.field || "")) })));
    },
    clear() {
      show([]);
    },
  };
}
