// One assistant answer on the page: the routing line, the reasoning or orchestration cards, the streamed
// Markdown answer, and what ended it (done, stopped, error).
import { el } from "./dom.js";
import { usageText } from "./history.js";
import { renderMarkdown } from "./markdown.js";
import { OrchestrationView } from "./orchestration.js";
import { ReasoningView } from "./reasoning.js";

/** What the page shows about an answer, from the gateway's response headers. */
export function metaFields(headers, phoenixUrl) {
  const traceId = headers.get("x-trace-id");
  return {
    path: headers.get("x-routing-path"),
    reason: headers.get("x-routing-reason"),
    requestId: headers.get("x-request-id"),
    traceUrl: traceId && phoenixUrl ? `${phoenixUrl}/redirects/traces/${encodeURIComponent(traceId)}` : null,
  };
}

/** Fill an answer's meta line: path, reason, request id, and the Phoenix trace link when there is one. */
export function renderMeta(container, fields) {
  const chip = (testid, cls, title, text) => el("span", { class: cls, "data-testid": testid, title, text });
  const parts = [];
  if (fields.path) parts.push(chip("routing-path", "route", "X-Routing-Path", fields.path));
  if (fields.reason) parts.push(chip("routing-reason", "reason", "X-Routing-Reason", fields.reason));
  if (fields.requestId) parts.push(chip("request-id", "request-id", "X-Request-Id", fields.requestId));
  if (fields.traceUrl) {
    const link = { "data-testid": "trace-link", href: fields.traceUrl, target: "_blank", rel: "noopener" };
    parts.push(el("a", { ...link, text: "trace in Phoenix ↗" }));
  }
  container.replaceChildren(...parts);
}

export class AnswerView {
  constructor(node, phoenixUrl) {
    this.node = node;
    this.phoenixUrl = phoenixUrl;
    this.reasoning = new ReasoningView(node.querySelector(".reasoning:not(.orchestration)"));
    this.orchestration = new OrchestrationView(node.querySelector(".orchestration"));
    this.answer = node.querySelector(".answer");
    this.thinking = node.querySelector(".thinking");
    this.text = "";
    this.meta = null; // the fields of the meta line, kept with the conversation
    this.events = []; // the reasoning events, replayed when a stored conversation is shown again
    this.orchestrationEvents = []; // the same for the orchestration events
    this.usage = null; // the stream's last chunk's usage (stream_options.include_usage)
    this.errorText = null;
    this.failed = false;
    this.renderPending = false;
  }

  showMeta(headers) {
    this.restoreMeta(metaFields(headers, this.phoenixUrl));
    this.node.dataset.state = "streaming";
  }

  restoreMeta(fields) {
    this.meta = fields;
    if (fields.requestId) this.node.dataset.requestId = fields.requestId; // the gateway's id: its logs, its audit row
    renderMeta(this.node.querySelector(".meta"), fields);
  }

  /** The answer's tokens (and cost, when the gateway reports one) on its meta line. */
  showUsage(usage) {
    this.usage = usage;
    const text = usageText(usage);
    if (!text) return;
    const meta = this.node.querySelector(".meta");
    const chip = meta.querySelector("[data-testid=usage]") ?? el("span", { class: "usage", "data-testid": "usage" });
    chip.textContent = text;
    chip.title = "tokens: prompt + completion = total, as the gateway reported them";
    meta.append(chip);
  }

  /** Apply one decoded stream event: a chunk (reasoning or orchestration event, thinking, answer text) or an error. */
  applyChunk(chunk) {
    if (chunk.error) {
      const error = chunk.error;
      this.fail(`The answer failed${error.code ? ` (${error.code})` : ""}: ${error.message || "no details"}`);
      return;
    }
    if (chunk.usage) this.showUsage(chunk.usage);
    const delta = chunk.choices?.[0]?.delta ?? {};
    // A structured event's reasoning_content is the same event as text: the cards show it.
    if (delta.orchestration_event) {
      this.orchestrationEvents.push(delta.orchestration_event);
      this.orchestration.apply(delta.orchestration_event);
    } else if (delta.reasoning_event) {
      this.events.push(delta.reasoning_event);
      this.reasoning.apply(delta.reasoning_event);
    } else if (delta.reasoning_content) this.addThinking(delta.reasoning_content);
    if (delta.content) {
      this.text += delta.content;
      this.scheduleRender();
    }
  }

  /** Models that stream `reasoning_content` without structured events (passthrough): plain text. */
  addThinking(text) {
    this.thinking.hidden = false;
    this.thinking.querySelector(".thinking-text").textContent += text;
  }

  scheduleRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => this.render());
  }

  render() {
    this.renderPending = false;
    this.answer.innerHTML = renderMarkdown(this.text);
  }

  fail(message) {
    this.failed = true;
    this.errorText = message;
    const error = this.node.querySelector(".error");
    error.textContent = message;
    error.hidden = false;
  }

  /** The answer ended: "done", "stopped" or "error". */
  finish(state) {
    this.render();
    const label = { done: null, stopped: "stopped", error: "interrupted" }[state];
    this.reasoning.settle(label);
    this.orchestration.settle(label);
    this.node.dataset.state = state;
    this.node.querySelector(".meta .pending")?.remove();
    this.node.querySelector(".note").hidden = state !== "stopped";
  }
}
