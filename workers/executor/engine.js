// testfleet's in-page engine: selectors, actionability and what assertions read.
// workers/executor/probe.py installs it once per document (a non-enumerable window
// property named after a hash of this file) and then calls it with small scripts.
// Selector language: testfleet/suites/steps/selectors.py. Actionability follows
// Playwright's rules (docs/src/actionability.md): visible = non-empty box and not
// visibility:hidden (opacity 0 IS visible); stable = same box across an animation
// frame; enabled = no [disabled] (fieldsets included) and no [aria-disabled=true]
// around it; editable = enabled and not read-only; hit = the element (or a
// descendant) is what the pointer would hit at the action point.

const ENGINES = new Set(["css", "xpath", "text", "role", "aria", "label", "placeholder",
  "testid", "nth", "has_text", "visible"]);

// `text` split at `separator` (">>" between parts, "||" between alternatives) outside
// quotes and brackets.
function split(text, separator) {
  const parts = [];
  let current = "", quote = "", depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\" && i + 1 < text.length) { current += c + text[++i]; continue; }
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") depth = Math.max(0, depth - 1);
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(current.trim()); current = ""; i += separator.length - 1; continue;
    }
    current += c;
  }
  parts.push(current.trim());
  return parts;
}

function splitParts(selector) {
  return split(selector, ">>").map((part) => {
    const m = /^([a-z_]+)=([\s\S]*)$/.exec(part);
    if (m && ENGINES.has(m[1])) return {engine: m[1], body: m[2].trim()};
    if (/^(\/\/|\(\/\/|\.\.)/.test(part)) return {engine: "xpath", body: part};
    return {engine: "css", body: part};
  });
}

const norm = (s) => (s || "").replace(/[\s\u00a0]+/g, " ").trim();

// A text matcher: "Quoted" exact (case-sensitive), /re/flags, else a case-insensitive substring.
function textMatcher(body) {
  const q = /^(["'])([\s\S]*)\1(s|i)?$/.exec(body);
  if (q) {
    const want = norm(q[2].replace(/\\(.)/g, "$1"));
    return q[3] === "i" ? (t) => norm(t).toLowerCase() === want.toLowerCase()
                        : (t) => norm(t) === want;
  }
  const r = /^\/([\s\S]+)\/([a-z]*)$/.exec(body);
  if (r) { const re = new RegExp(r[1], r[2]); return (t) => re.test(norm(t)); }
  const want = norm(body).toLowerCase();
  return (t) => norm(t).toLowerCase().includes(want);
}

// Every element under root (the scope's own shadow root and every open shadow root
// below included), in document order.
function allElements(root) {
  const out = [];
  const walk = (node) => {
    for (const el of node.querySelectorAll("*")) {
      out.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  if (root.shadowRoot) walk(root.shadowRoot);
  walk(root);
  return out;
}

function shadowRoots(root) {
  const out = [];
  const walk = (node) => {
    for (const el of node.querySelectorAll("*")) {
      if (el.shadowRoot) { out.push(el.shadowRoot); walk(el.shadowRoot); }
    }
  };
  if (root.shadowRoot) { out.push(root.shadowRoot); walk(root.shadowRoot); }
  walk(root);
  return out;
}

const SKIP_TEXT = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "HEAD", "TITLE"]);

function elementText(el) {
  if (el instanceof HTMLInputElement && ["button", "submit", "reset"].includes(el.type)) {
    return el.value;
  }
  let text = "";
  const walk = (node) => {
    for (let child = node.firstChild; child; child = child.nextSibling) {
      if (child.nodeType === 3) text += child.data;
      else if (child.nodeType === 1 && !SKIP_TEXT.has(child.tagName)) walk(child);
    }
    if (node.shadowRoot) walk(node.shadowRoot);
  };
  walk(el);
  return text;
}

// --- roles and accessible names (the parts of WAI-ARIA / accname real pages need) ---

const INPUT_ROLES = {button: "button", submit: "button", reset: "button", image: "button",
  checkbox: "checkbox", radio: "radio", range: "slider", number: "spinbutton",
  search: "searchbox", email: "textbox", tel: "textbox", text: "textbox", url: "textbox",
  password: "textbox"};

function implicitRole(el) {
  const tag = el.tagName;
  switch (tag) {
    case "A": case "AREA": return el.hasAttribute("href") ? "link" : null;
    case "BUTTON": return "button";
    case "INPUT": {
      if (el.type === "hidden") return null;
      if (el.hasAttribute("list") && ["text", "search", "email", "tel", "url"].includes(el.type))
        return "combobox";
      return INPUT_ROLES[el.type] || "textbox";
    }
    case "TEXTAREA": return "textbox";
    case "SELECT": return el.multiple || el.size > 1 ? "listbox" : "combobox";
    case "OPTION": return "option";
    case "H1": case "H2": case "H3": case "H4": case "H5": case "H6": return "heading";
    case "UL": case "OL": case "MENU": return "list";
    case "LI": return "listitem";
    case "IMG": return el.getAttribute("alt") === "" ? "presentation" : "img";
    case "TABLE": return "table";
    case "TR": return "row";
    case "TD": return "cell";
    case "TH": return el.getAttribute("scope") === "row" ? "rowheader" : "columnheader";
    case "THEAD": case "TBODY": case "TFOOT": return "rowgroup";
    case "NAV": return "navigation";
    case "MAIN": return "main";
    case "ASIDE": return "complementary";
    case "HEADER": return el.closest("article, aside, main, nav, section") ? null : "banner";
    case "FOOTER": return el.closest("article, aside, main, nav, section") ? null : "contentinfo";
    case "FORM": return "form";
    case "DIALOG": return "dialog";
    case "ARTICLE": return "article";
    case "SECTION":
      return el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ? "region" : null;
    case "HR": return "separator";
    case "PROGRESS": return "progressbar";
    case "METER": return "meter";
    case "FIELDSET": case "DETAILS": case "OPTGROUP": return "group";
    case "OUTPUT": return "status";
    case "P": return "paragraph";
    case "DL": return "list";
    case "SUMMARY": return "button";
    default: return null;
  }
}

function roleOf(el) {
  const explicit = (el.getAttribute("role") || "").trim().split(/\s+/)[0];
  return explicit || implicitRole(el);
}

const NAME_FROM_CONTENT = new Set(["button", "cell", "checkbox", "columnheader", "gridcell",
  "heading", "link", "menuitem", "menuitemcheckbox", "menuitemradio", "option", "radio",
  "row", "rowheader", "switch", "tab", "tooltip", "treeitem", "listitem"]);

function byIds(el, attr) {
  const ids = (el.getAttribute(attr) || "").trim().split(/\s+/).filter(Boolean);
  const root = el.getRootNode();
  return ids.map((id) => (root.getElementById ? root.getElementById(id) : null)
    || document.getElementById(id)).filter(Boolean);
}

function labelsText(el) {
  const labels = el.labels ? Array.from(el.labels) : [];
  return labels.map((l) => norm(elementText(l))).filter(Boolean).join(" ");
}

function accessibleName(el) {
  const labelled = byIds(el, "aria-labelledby");
  if (labelled.length) return norm(labelled.map(elementText).join(" "));
  const aria = norm(el.getAttribute("aria-label"));
  if (aria) return aria;
  const tag = el.tagName;
  if (tag === "INPUT" && ["button", "submit", "reset"].includes(el.type)) {
    return norm(el.value) || (el.type === "submit" ? "Submit" : el.type === "reset" ? "Reset" : "");
  }
  if (tag === "INPUT" && el.type === "image") return norm(el.getAttribute("alt"));
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
    return labelsText(el) || norm(el.getAttribute("title")) || norm(el.getAttribute("placeholder"));
  }
  if (tag === "IMG" || tag === "AREA") return norm(el.getAttribute("alt") || el.getAttribute("title"));
  if (tag === "FIELDSET") { const l = el.querySelector("legend"); if (l) return norm(elementText(l)); }
  if (tag === "TABLE") { const c = el.querySelector("caption"); if (c) return norm(elementText(c)); }
  if (tag === "FIGURE") { const c = el.querySelector("figcaption"); if (c) return norm(elementText(c)); }
  const role = roleOf(el);
  if (role && NAME_FROM_CONTENT.has(role)) {
    const fromLabel = labelsText(el);
    if (fromLabel) return fromLabel;
    let text = "";
    const walk = (node) => {
      for (let c = node.firstChild; c; c = c.nextSibling) {
        if (c.nodeType === 3) text += c.data;
        else if (c.nodeType === 1 && !SKIP_TEXT.has(c.tagName)) {
          if (c.tagName === "IMG") text += " " + (c.getAttribute("alt") || "") + " ";
          else if (c.getAttribute("aria-hidden") !== "true") walk(c);
        }
      }
      if (node.shadowRoot) walk(node.shadowRoot);
    };
    walk(el);
    if (norm(text)) return norm(text);
  }
  return norm(el.getAttribute("title"));
}

function checkedState(el) {
  // true / false / "mixed", or null when it is not something that can be checked.
  if (el instanceof HTMLInputElement && (el.type === "checkbox" || el.type === "radio")) {
    return el.indeterminate && el.type === "checkbox" ? "mixed" : el.checked;
  }
  const role = roleOf(el);
  if (["checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio", "option",
       "treeitem"].includes(role)) {
    const v = el.getAttribute("aria-checked");
    return v === "mixed" ? "mixed" : v === "true";
  }
  return null;
}

function isDisabled(el) {
  if (el.matches("button, input, select, textarea, option, optgroup") && el.matches(":disabled")) {
    return true;
  }
  for (let n = el; n; n = n.parentElement || (n.getRootNode() && n.getRootNode().host)) {
    if (n.getAttribute && n.getAttribute("aria-disabled") === "true") return true;
  }
  return false;
}

function roleMatches(el, role, options) {
  if (roleOf(el) !== role) return false;
  if (!("include-hidden" in options)) {
    if (!isVisible(el)) return false;
    for (let n = el; n; n = n.parentElement) if (n.getAttribute("aria-hidden") === "true") return false;
  }
  if (options.name !== undefined && !textMatcher(options.name)(accessibleName(el))) return false;
  if (options.level !== undefined) {
    const level = Number(el.getAttribute("aria-level") || (/^H(\d)$/.exec(el.tagName) || [])[1]);
    if (level !== Number(options.level)) return false;
  }
  const state = (name, actual) => {
    if (options[name] === undefined) return true;
    const want = options[name] === "" ? "true" : String(options[name]);
    return String(actual) === want;
  };
  return state("checked", checkedState(el))
    && state("disabled", isDisabled(el))
    && state("expanded", el.getAttribute("aria-expanded") === "true")
    && state("pressed", el.getAttribute("aria-pressed") === "true")
    && state("selected", el.selected === true || el.getAttribute("aria-selected") === "true");
}

function parseRole(body) {
  const m = /^([a-z]+)((?:\[[^\]]*\])*)$/.exec(body);
  if (!m) throw new Error("role= takes a role and [option=value] filters: " + body);
  const options = {};
  const re = /\[\s*([a-z-]+)\s*(?:=\s*([\s\S]*?))?\s*\]/g;
  let o;
  while ((o = re.exec(m[2]))) options[o[1]] = o[2] === undefined ? "" : o[2];
  return [m[1], options];
}

// aria=Name[role="button"] (Chrome Recorder's aria/ selectors, as Puppeteer reads them):
// the accessible name exactly (whitespace collapsed), the role when given; shown elements
// only, as the accessibility tree has them.
function parseAria(body) {
  const options = {};
  const re = /\[\s*(\w+)\s*=\s*(?:"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'|([^\]]*?))\s*\]/g;
  const name = body.replace(re, (all, key, double, single, bare) => {
    const value = double !== undefined ? double : single !== undefined ? single : bare;
    options[key] = value.replace(/\\(.)/g, "$1");
    return "";
  }).trim();
  if (name) options.name = name;
  return options;
}

function ariaMatches(el, options) {
  if (options.role !== undefined && roleOf(el) !== options.role) return false;
  if (options.name !== undefined && accessibleName(el) !== norm(options.name)) return false;
  if (!isVisible(el)) return false;
  for (let n = el; n; n = n.parentElement) if (n.getAttribute("aria-hidden") === "true") return false;
  return true;
}

function labelMatches(el, matcher) {
  const texts = [];
  const labelled = byIds(el, "aria-labelledby");
  if (labelled.length) texts.push(labelled.map(elementText).join(" "));
  if (el.getAttribute("aria-label")) texts.push(el.getAttribute("aria-label"));
  if (el.labels) for (const l of el.labels) texts.push(elementText(l));
  return texts.some((t) => matcher(t));
}

// --- querying --------------------------------------------------------------------

function queryPart(part, scope, testid) {
  const {engine, body} = part;
  if (engine === "css") {
    const found = Array.from(scope.querySelectorAll(body));
    for (const root of shadowRoots(scope)) found.push(...root.querySelectorAll(body));
    return found;
  }
  if (engine === "xpath") {
    const expr = scope !== document && body.startsWith("/") ? "." + body : body;
    const snap = document.evaluate(expr, scope, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    const found = [];
    for (let i = 0; i < snap.snapshotLength; i++) {
      const node = snap.snapshotItem(i);
      if (!(node instanceof Element)) throw new Error("the XPath selects no element");
      found.push(node);
    }
    return found;
  }
  const elements = allElements(scope);
  if (engine === "text") {
    const matcher = textMatcher(body);
    const hits = new Set(elements.filter((el) => !SKIP_TEXT.has(el.tagName) && matcher(elementText(el))));
    // The smallest elements holding the text: drop those with a matching descendant.
    for (const el of hits) {
      for (let p = el.parentElement || (el.getRootNode() && el.getRootNode().host); p;
           p = p.parentElement || (p.getRootNode() && p.getRootNode().host)) {
        if (hits.has(p)) hits.delete(p);
      }
    }
    return elements.filter((el) => hits.has(el));
  }
  if (engine === "role") {
    const [role, options] = parseRole(body);
    return elements.filter((el) => roleMatches(el, role, options));
  }
  if (engine === "aria") {
    const options = parseAria(body);
    return elements.filter((el) => ariaMatches(el, options));
  }
  if (engine === "label") {
    const matcher = textMatcher(body);
    return elements.filter((el) => labelMatches(el, matcher));
  }
  if (engine === "placeholder") {
    const matcher = textMatcher(body);
    return elements.filter((el) => el.hasAttribute("placeholder") && matcher(el.getAttribute("placeholder")));
  }
  if (engine === "testid") {
    const want = body.replace(/^(["'])([\s\S]*)\1$/, "$2");
    return elements.filter((el) => el.getAttribute(testid) === want);
  }
  throw new Error("unknown selector engine " + engine);
}

// Every element matching the first alternative that matches any.
function queryAll(selector, testid) {
  const alternatives = split(selector, "||");
  for (let i = 0; i < alternatives.length - 1; i++) {
    const found = queryOne(alternatives[i], testid);
    if (found.length) return found;
  }
  return queryOne(alternatives[alternatives.length - 1], testid);
}

function queryOne(selector, testid) {
  let found = [document];
  for (const part of splitParts(selector)) {
    if (part.engine === "nth") {
      const n = Number(part.body);
      const el = found[n < 0 ? found.length + n : n];
      found = el ? [el] : [];
    } else if (part.engine === "has_text") {
      const matcher = textMatcher(part.body);
      found = found.filter((el) => matcher(elementText(el)));
    } else if (part.engine === "visible") {
      found = found.filter((el) => isVisible(el) === (part.body === "true"));
    } else {
      const next = [];
      const seen = new Set();
      for (const scope of found) {
        for (const el of queryPart(part, scope, testid)) {
          if (!seen.has(el)) { seen.add(el); next.push(el); }
        }
      }
      found = next;
    }
    if (!found.length) break;
  }
  return found.filter((el) => el instanceof Element);
}

// --- states ------------------------------------------------------------------------

function isVisible(el) {
  const style = getComputedStyle(el);
  if (style.display === "contents") {
    for (let c = el.firstElementChild; c; c = c.nextElementSibling) if (isVisible(c)) return true;
    return false;
  }
  if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) return false;
  if (style.visibility !== "visible") return false;
  const box = el.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
}

function readOnly(el) {
  if (el.matches("input, textarea, select")) return el.hasAttribute("readonly");
  if (el.getAttribute("aria-readonly") === "true") return true;
  if (el.isContentEditable) return false;
  return null; // not something that can be edited
}

// Playwright's retargeting: act on the control a label is for, on the button around a span.
function retarget(el, how) {
  if (how === "none") return el;
  let target = el;
  if (!target.matches("input, textarea, select") && !target.isContentEditable) {
    target = how === "button-link"
      ? target.closest("button, [role=button], a, [role=link]") || target
      : target.closest("button, [role=button], [role=checkbox], [role=radio]") || target;
  }
  if (how === "follow-label" && !target.matches(
      "a, input, textarea, button, select, [role=link], [role=button], [role=checkbox], [role=radio]")
      && !target.isContentEditable) {
    const label = target.closest("label");
    if (label && label.control) target = label.control;
  }
  return target;
}

function describe(el) {
  if (!el) return "nothing";
  let text = "<" + el.tagName.toLowerCase();
  if (el.id) text += ' id="' + el.id + '"';
  const cls = typeof el.className === "string" ? norm(el.className) : "";
  if (cls) text += ' class="' + cls.slice(0, 60) + '"';
  return text + ">";
}

function deepActive() {
  let active = document.activeElement;
  while (active && active.shadowRoot && active.shadowRoot.activeElement) {
    active = active.shadowRoot.activeElement;
  }
  return active;
}

// The in-view centre of the element's first box (where WebDriver clicks).
function actionPoint(el) {
  const rects = el.getClientRects();
  const r = rects.length ? rects[0] : el.getBoundingClientRect();
  const left = Math.max(0, r.left), right = Math.min(innerWidth, r.right);
  const top = Math.max(0, r.top), bottom = Math.min(innerHeight, r.bottom);
  return {x: Math.floor((left + right) / 2), y: Math.floor((top + bottom) / 2)};
}

function hitTarget(el, point) {
  // The chain of roots down to el, hit-tested from the document inwards (Playwright's way).
  const roots = [];
  for (let n = el; n;) {
    const root = n.getRootNode();
    roots.push(root);
    if (root === document || !root.host) break;
    n = root.host;
  }
  let hit = null;
  for (let i = roots.length - 1; i >= 0; i--) {
    const inner = roots[i].elementFromPoint(point.x, point.y);
    if (!inner) break;
    hit = inner;
    if (i && inner !== roots[i - 1].host) break;
  }
  for (let n = hit; n; n = n.assignedSlot || n.parentElement || (n.getRootNode() && n.getRootNode().host)) {
    if (n === el) return null;
  }
  return describe(hit);
}

function box(el) {
  const r = el.getBoundingClientRect();
  return [r.top, r.left, r.width, r.height].join(",");
}

function inViewport(el) {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
}

// probe(selector, testid, checks, how, done): done([state, element, control, info]).
// state: ready | missing | hidden | disabled | readonly | noteditable | unstable | covered
// | invalid. control: the element retargeted ("follow-label"); info: value, checked, detail.
function probe(selector, testid, checks, how, done) {
  let el;
  try {
    el = queryAll(selector, testid)[0];
  } catch (e) {
    return done(["invalid", null, null, {detail: String((e && e.message) || e)}]);
  }
  if (!el) return done(["missing", null, null, {}]);
  const control = retarget(el, how);
  const value = typeof control.value === "string" ? control.value
    : control.isContentEditable ? control.textContent : null;
  const info = {value: value, checked: checkedState(control), tag: control.tagName.toLowerCase(),
                type: control.type || null};
  const want = new Set(checks);
  // A kind of element that can never be edited fails at once, whatever else holds.
  const ro = want.has("editable") ? readOnly(control) : false;
  if (ro === null) return done(["noteditable", el, control, info]);
  if (want.has("visible") && !isVisible(el)) return done(["hidden", el, control, info]);
  if (want.has("enabled") && isDisabled(control)) return done(["disabled", el, control, info]);
  if (ro) return done(["readonly", el, control, info]);
  if (!want.has("stable") && !want.has("hit")) return done(["ready", el, control, info]);
  if (!inViewport(el)) el.scrollIntoView({block: "center", inline: "center", behavior: "instant"});
  const finish = () => {
    if (want.has("hit")) {
      const cover = hitTarget(retarget(el, "button-link"), actionPoint(el));
      if (cover) return done(["covered", el, control, {...info, detail: cover}]);
    }
    done(["ready", el, control, info]);
  };
  if (!want.has("stable")) return finish();
  // The box now (as of the last frame) and in the next animation frame's callback, by
  // which time animations have been updated for that frame: the same box = stable.
  const before = box(el);
  let settled = false;
  const compare = () => {
    if (settled) return;
    settled = true;
    if (!el.isConnected) return done(["missing", null, null, {}]);
    if (box(el) !== before) return done(["unstable", el, control, info]);
    finish();
  };
  requestAnimationFrame(compare);
  // No frame for a long while (a busy machine, a throttled page): nothing shows the box
  // still, and boxes of animations only change with frames, so it is "not stable yet"
  // (the caller polls again), never "stable" on the strength of no news.
  setTimeout(() => {
    if (settled) return;
    settled = true;
    done(["unstable", el, control, info]);
  }, 500);
}

function jsText(v) {
  if (v === null || v === undefined) return v === null ? "null" : "undefined";
  if (typeof v === "object") { try { return JSON.stringify(v); } catch (e) { return String(v); } }
  return String(v);
}

function property(el, path) {
  let v = el;
  for (const key of path.split(".")) { if (v === null || v === undefined) break; v = v[key]; }
  return jsText(v);
}

// inspect(selector, testid, kind, name): what an assertion of `kind` reads, in one go.
function inspect(selector, testid, kind, name) {
  let found;
  try {
    found = queryAll(selector, testid);
  } catch (e) {
    return {invalid: String((e && e.message) || e)};
  }
  const out = {count: found.length};
  const el = found[0];
  if (kind === "hidden") { out.visible = found.some(isVisible); return out; }
  if (!el) return out;
  switch (kind) {
    case "visible": out.visible = isVisible(el); break;
    case "text":
      out.value = el.matches("input, textarea, select") ? el.value
        : el.innerText !== undefined ? el.innerText : el.textContent;
      break;
    case "value":
      out.value = typeof el.value === "string" ? el.value : null;
      out.tag = el.tagName.toLowerCase();
      break;
    case "checked": out.checked = checkedState(retarget(el, "follow-label")); break;
    case "enabled": case "disabled": out.disabled = isDisabled(retarget(el, "follow-label")); break;
    case "editable": {
      const control = retarget(el, "follow-label");
      out.disabled = isDisabled(control);
      out.readonly = readOnly(control);
      out.tag = control.tagName.toLowerCase();
      break;
    }
    case "focused": out.focused = deepActive() === el; out.active = describe(deepActive()); break;
    case "class": out.classes = Array.from(el.classList); out.value = el.getAttribute("class") || ""; break;
    case "css": out.value = getComputedStyle(el).getPropertyValue(name); break;
    case "property": out.value = property(el, name); break;
    case "attribute": out.value = el.getAttribute(name); break;
    case "selected":
      if (el instanceof HTMLSelectElement) {
        out.options = Array.from(el.selectedOptions).map((o) => [norm(o.label || o.text), o.value]);
      } else {
        out.selected = el.selected === true || el.getAttribute("aria-selected") === "true";
      }
      break;
  }
  return out;
}

// fill(control, text): set a field's value as one edit (Playwright's fill), never blurring;
// a <select> takes the option with this value, else this text (a recorded change).
function fill(control, text) {
  if (control instanceof HTMLSelectElement) {
    const options = Array.from(control.options);
    const option = options.find((o) => o.value === text)
      || options.find((o) => norm(o.label || o.text) === norm(text));
    if (!option) return "no option has the value or text " + JSON.stringify(text);
    if (option.disabled) return "the option " + JSON.stringify(text) + " is disabled";
    option.selected = true;
    control.dispatchEvent(new Event("input", {bubbles: true, composed: true}));
    control.dispatchEvent(new Event("change", {bubbles: true}));
    return null;
  }
  const SETTABLE = ["date", "time", "datetime-local", "month", "week", "color", "range"];
  if (control instanceof HTMLInputElement) {
    const type = control.type;
    if (["checkbox", "radio", "file", "button", "submit", "reset", "image", "hidden"].includes(type)) {
      return "an <input type=" + type + "> cannot be filled";
    }
    if (SETTABLE.includes(type)) {
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
      control.focus();
      setter.call(control, text);
      if (control.value !== text) return "a " + type + " input does not accept " + JSON.stringify(text);
      control.dispatchEvent(new Event("input", {bubbles: true, composed: true}));
      control.dispatchEvent(new Event("change", {bubbles: true}));
      return null;
    }
  }
  control.focus();
  if (control.matches("input, textarea")) control.select();
  else {
    const range = document.createRange();
    range.selectNodeContents(control);
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  const done = text ? document.execCommand("insertText", false, text) : document.execCommand("delete");
  if (!done) {
    // Not an editing host execCommand works in: set the value and say so with events.
    const proto = control instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
      : HTMLInputElement.prototype;
    const setter = Object.getOwnPropertyDescriptor(proto, "value");
    if (setter && setter.set && control.matches("input, textarea")) setter.set.call(control, text);
    else control.textContent = text;
    control.dispatchEvent(new Event("input", {bubbles: true, composed: true}));
  }
  return null;
}

// choose(select, wanted): select the option whose text (else value) is `wanted`.
function choose(select, wanted) {
  if (!(select instanceof HTMLSelectElement)) return {error: "it is a <" + select.tagName.toLowerCase() + ">, not a <select>"};
  const options = Array.from(select.options);
  const option = options.find((o) => norm(o.label || o.text) === norm(wanted))
    || options.find((o) => o.value === wanted);
  if (!option) return {options: options.map((o) => norm(o.label || o.text))};
  if (option.disabled) return {error: "the option " + JSON.stringify(wanted) + " is disabled"};
  option.selected = true;
  select.dispatchEvent(new Event("input", {bubbles: true, composed: true}));
  select.dispatchEvent(new Event("change", {bubbles: true}));
  return {};
}

// operate(selector, testid, op): focus / blur the first match ("blur-active": the focused one).
function operate(selector, testid, op) {
  if (op === "blur-active") {
    const active = deepActive();
    if (active && active.blur) active.blur();
    return "ok";
  }
  let el;
  try {
    el = queryAll(selector, testid)[0];
  } catch (e) {
    return "invalid:" + String((e && e.message) || e);
  }
  if (!el) return "missing";
  if (op === "focus") { el.focus(); return deepActive() === el ? "ok" : "unfocusable"; }
  if (op === "blur") { el.blur(); return "ok"; }
  return "unknown operation " + op;
}
