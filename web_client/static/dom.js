// Building page elements. Text always goes in as textContent, never as HTML, so nothing
// from the model or a tool (thoughts, arguments, results) can become markup.

/** A new element: attributes (`text` sets textContent; true → empty attribute), then children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false && value != null) node.setAttribute(name, String(value));
  }
  node.append(...children);
  return node;
}

/** A value (or a string holding JSON) as indented JSON; other strings as they are. */
export function prettyJson(value) {
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

/** A value as JSON on one line (`{ "city": "Paris" }`) when short, else indented. */
export function shortJson(value, maxLength = 70) {
  const oneLine = JSON.stringify(value, null, 1).replace(/\n\s*/g, " ");
  return oneLine.length <= maxLength ? oneLine : prettyJson(value);
}

/**
 * A collapsible status card (`<details class="step">`): a title and a status line in its
 * summary, a `.step-body` below. The reasoning steps and the orchestration tasks are both
 * these cards; `data-state` (app.css) colours the edge: done, failed, stopped, skipped.
 */
export function statusCard(attributes, title, status) {
  return el(
    "details",
    { class: "step", open: true, ...attributes },
    el(
      "summary",
      {},
      el("span", { class: "step-title", text: title }),
      el("span", { class: "step-status", "data-testid": "step-status", text: status }),
    ),
    el("div", { class: "step-body" }),
  );
}

/** Set a status card's state (its `data-state`) and the text of its status line. */
export function setCardState(card, state, label) {
  card.dataset.state = state;
  card.querySelector(".step-status").textContent = label;
}
