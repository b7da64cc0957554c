// testfleet's DOM snapshot: one function expression, called in the page through WebDriver's
// execute_script as (SNAPSHOT)(secrets, {maxChars}), on its own or riding on the step's
// own engine call (testfleet.evidence.snapshot); returns
// {html, url, title, nodes, chars, truncated, skipped}.
// html is the document serialised for offline viewing:
//  - form state written into attributes (input value, checked, option selected, textarea
//    text); a password input never carries its value (data-tf-masked="password");
//  - open shadow roots as declarative shadow DOM (<template shadowrootmode>);
//  - same-origin iframes inlined as srcdoc, recursively; cross-origin ones left empty;
//  - every style sheet's rules inlined in <style> (linked, @import, CSSOM, adopted);
//  - nothing that runs or loads: <script>, <noscript>, <base>, <link>, <object>, <embed>,
//    <meta http-equiv>, on* attributes and javascript: URLs are dropped;
//  - every exact occurrence of a secret (arguments[0]) replaced by ********, so that most
//    secrets never leave the browser (the worker's masker is the guarantee).
// Closed shadow roots are out of reach of page scripts: their hosts come out empty.
(function (secrets, options) {
  const maxChars = options.maxChars || 4 * 1024 * 1024;
  const MASK = '********';
  const secretList = (secrets || []).filter(function (s) { return typeof s === 'string' && s.length > 0; });
  const skipped = {crossOriginFrames: 0, unreadableSheets: 0, scripts: 0, handlers: 0};
  const DROP = new Set(['script', 'noscript', 'base', 'object', 'embed', 'applet', 'portal']);
  const VOID = new Set(['area', 'br', 'col', 'hr', 'img', 'input', 'meta', 'param', 'source',
    'track', 'wbr']);
  const RAW = new Set(['xmp', 'noembed', 'noframes']);
  const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster']);
  let nodes = 0;
  let chars = 0;
  let truncated = false;

  function mask(text) {
    for (const s of secretList) if (text.indexOf(s) >= 0) text = text.split(s).join(MASK);
    return text;
  }
  function escText(t) { return mask(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }
  function escAttr(t) { return mask(t).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;'); }
  function cssSafe(t) { return mask(t).replace(/<\/(style)/gi, '<\\/$1'); }

  function rulesText(sheet, depth) {
    let rules;
    try { rules = sheet.cssRules; } catch (e) { skipped.unreadableSheets++; return ''; }
    if (!rules) return '';
    const parts = [];
    for (const rule of rules) {
      if (rule instanceof CSSImportRule) {
        if (rule.styleSheet && depth < 5) {
          const inner = rulesText(rule.styleSheet, depth + 1);
          const media = rule.media && rule.media.mediaText;
          parts.push(media ? '@media ' + media + ' {' + inner + '}' : inner);
        }
      } else {
        parts.push(rule.cssText);
      }
    }
    return parts.join('\n');
  }
  function styleTag(sheet, media) {
    return '<style' + (media ? ' media="' + escAttr(media) + '"' : '') + '>' +
      cssSafe(rulesText(sheet, 0)) + '</style>';
  }
  function adopted(root) {
    let out = '';
    for (const s of root.adoptedStyleSheets || []) out += styleTag(s, s.media && s.media.mediaText);
    return out;
  }

  function attrs(el, tag) {
    const out = [];
    const isInput = tag === 'input';
    const type = isInput ? (el.type || 'text').toLowerCase() : '';
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith('on')) { skipped.handlers++; continue; }
      if (isInput && (name === 'value' || name === 'checked')) continue;  // live state below
      if (tag === 'option' && name === 'selected') continue;
      if ((tag === 'iframe' || tag === 'frame') && (name === 'src' || name === 'srcdoc')) continue;
      let value = a.value;
      if (URL_ATTRS.has(name) && /^\s*(javascript|vbscript):/i.test(value)) value = '#';
      out.push(' ' + a.name + '="' + escAttr(value) + '"');
    }
    if (isInput) {
      if (type === 'password') {
        if (el.value) out.push(' data-tf-masked="password"');
      } else if (type === 'checkbox' || type === 'radio') {
        if (el.checked) out.push(' checked=""');
        if (el.hasAttribute('value')) out.push(' value="' + escAttr(el.getAttribute('value')) + '"');
      } else if (type !== 'file') {
        out.push(' value="' + escAttr(el.value) + '"');
      }
    }
    if (tag === 'option' && el.selected) out.push(' selected=""');
    return out.join('');
  }

  function push(buf, text) {
    buf.push(text);
    chars += text.length;
    if (chars > maxChars) truncated = true;
  }

  function children(parent, buf) {
    for (let n = parent.firstChild; n && !truncated; n = n.nextSibling) node(n, buf);
  }

  function node(n, buf) {
    nodes++;
    if (n.nodeType === 3) {
      const p = n.parentNode;
      const ptag = p && p.nodeType === 1 ? p.localName : '';
      if (ptag === 'style') return;  // the sheet's rules stand for it
      push(buf, RAW.has(ptag) ? mask(n.data).replace(/<\//g, '<\\/') : escText(n.data));
      return;
    }
    if (n.nodeType !== 1) return;  // comments, processing instructions
    const el = n;
    const tag = el.localName;
    if (DROP.has(tag)) { if (tag === 'script') skipped.scripts++; return; }
    if (tag === 'meta' && el.hasAttribute('http-equiv')) return;
    if (tag === 'link') {
      const rel = (el.rel || '').toLowerCase().split(/\s+/);
      if (rel.includes('stylesheet') && el.sheet && !el.disabled) push(buf, styleTag(el.sheet, el.media));
      return;  // no link survives: the viewer loads nothing
    }
    if (tag === 'style') {
      push(buf, el.sheet ? styleTag(el.sheet, el.media) : '<style></style>');
      return;
    }
    const open = '<' + tag + attrs(el, tag);
    if (tag === 'iframe' || tag === 'frame') {
      let doc = null;
      try { doc = el.contentDocument; } catch (e) { doc = null; }
      if (doc && doc.documentElement) {
        const inner = [];
        documentHtml(doc, inner);
        push(buf, open + ' srcdoc="' + escAttr(inner.join('')) + '"></' + tag + '>');
      } else {
        skipped.crossOriginFrames++;
        push(buf, open + '></' + tag + '>');
      }
      return;
    }
    push(buf, open + '>');
    if (VOID.has(tag)) return;
    const shadow = el.shadowRoot;
    if (shadow) {
      push(buf, '<template shadowrootmode="' + shadow.mode + '">' + adopted(shadow));
      children(shadow, buf);
      push(buf, '</template>');
    }
    if (tag === 'textarea') push(buf, escText(el.value));
    else if (tag === 'template') children(el.content, buf);
    else children(el, buf);
    push(buf, '</' + tag + '>');
  }

  function documentHtml(doc, buf) {
    buf.push('<!DOCTYPE html>');
    const inner = [];
    node(doc.documentElement, inner);
    let html = inner.join('');
    const sheets = adopted(doc);
    if (sheets) html = html.replace(/<head([^>]*)>/, function (m) { return m + sheets; });
    buf.push(html);
  }

  const out = [];
  documentHtml(document, out);
  let html = out.join('');
  if (truncated) html += '<!-- testfleet: snapshot cut at ' + maxChars + ' characters -->';
  return {
    html: html,
    url: mask(location.href),
    title: mask(document.title),
    nodes: nodes,
    chars: html.length,
    truncated: truncated,
    skipped: skipped,
  };
})
