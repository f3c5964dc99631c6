// markdown.js — renders a model's answer (Markdown) into an element: marked turns it into HTML, DOMPurify keeps
// only a small allow-list of tags, and code blocks get a Copy button. The model's text is untrusted: raw HTML in it
// is shown as text, images are not loaded, and only http(s), mailto and relative links survive.
import { Marked } from "../vendor/marked/marked.esm.js";
import DOMPurify from "../vendor/dompurify/purify.es.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

const marked = new Marked({
  gfm: true,
  breaks: true, // a single newline stays a line break, as in the plain-text bubbles before
  renderer: {
    // Raw HTML from the model is shown as the text it is, not dropped silently and never parsed.
    html: ({ text }) => escapeHtml(text),
    // An image would be fetched from wherever the model points (a tracking pixel at best): show its alt text.
    image: ({ text }) => escapeHtml(text),
    // A disabled <input> would need one more allowed tag; a character says the same.
    checkbox: ({ checked }) => (checked ? "☑ " : "☐ "),
  },
});

// A private instance: the link hook below must not leak into any other user of DOMPurify.
const purify = DOMPurify(window);
const PURIFY_CONFIG = {
  ALLOWED_TAGS: [
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre",
    "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
  ],
  ALLOWED_ATTR: ["href", "title", "align", "start"], // no class/style/id: the model must not borrow the page's CSS
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  // DOMPurify's default also lets tel:, sms:, xmpp: … through; a chat answer needs web and mail links only.
  ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  RETURN_DOM_FRAGMENT: true, // no second HTML parse between sanitizing and showing (mutation XSS)
};
purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName !== "A" || !node.hasAttribute("href")) return;
  // Links leave the portal in a new tab that gets no handle on this page and no referrer.
  node.setAttribute("target", "_blank");
  node.setAttribute("rel", "noopener noreferrer");
});

const COPIED_MS = 1500;
const labelTimers = new WeakMap(); // button -> the timer that puts "Copy" back

/** Copy a code block's text: the Clipboard API where allowed (secure contexts), else select it and execCommand. */
async function copyCode(button, code) {
  const text = code.textContent;
  let label = "Copied";
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (plain http), or permission refused: the selection route works in more places, and if
    // even that fails the text stays selected for the user to copy by hand.
    const selection = window.getSelection();
    selection.selectAllChildren(code);
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    if (copied) selection.removeAllRanges();
    else label = "Selected";
  }
  button.textContent = label;
  clearTimeout(labelTimers.get(button));
  labelTimers.set(button, setTimeout(() => { button.textContent = "Copy"; }, COPIED_MS));
}

function addCopyButtons(root) {
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector("code") || pre;
    const wrapper = document.createElement("div");
    wrapper.className = "code-block";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-small code-copy";
    button.textContent = "Copy"; // its name for screen readers too, so "Copied" is heard when it changes
    button.title = "Copy the code";
    button.addEventListener("click", () => copyCode(button, code));
    pre.replaceWith(wrapper);
    wrapper.append(button, pre);
  }
}

/** Show `text` (Markdown) as sanitized HTML in `element`, replacing what it held. */
export function renderMarkdown(element, text) {
  element.classList.add("markdown");
  const source = String(text ?? "");
  if (!source) {
    element.replaceChildren(); // stays :empty (the streaming bubble before its first words)
    return;
  }
  const fragment = purify.sanitize(marked.parse(source, { async: false }), PURIFY_CONFIG);
  addCopyButtons(fragment);
  element.replaceChildren(fragment);
}

// The latest text per element waiting for the next frame (while an answer streams in).
const queued = new WeakMap();

/** renderMarkdown at most once per animation frame: a fast stream re-renders the whole text, so coalesce. */
export function renderMarkdownSoon(element, text) {
  const scheduled = queued.has(element);
  queued.set(element, text);
  if (scheduled) return;
  requestAnimationFrame(() => {
    const latest = queued.get(element);
    queued.delete(element);
    renderMarkdown(element, latest);
  });
}
