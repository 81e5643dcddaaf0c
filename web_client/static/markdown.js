// The model's answer, Markdown → safe HTML.
//
// marked parses the Markdown; raw HTML in the model's text is never parsed as markup but
// shown as text (the `html` renderer below escapes it); DOMPurify then sanitizes the result
// anyway (javascript: links, anything a future marked might let through). The page's
// Content-Security-Policy forbids inline scripts as a third wall.
/* global marked, DOMPurify */

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

const parser = new marked.Marked({ gfm: true, renderer: { html: ({ text }) => escapeHtml(text) } });

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

/** The sanitized HTML of `text` rendered as Markdown (code blocks as escaped <pre><code>). */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(parser.parse(text), { USE_PROFILES: { html: true } });
}
