// The reasoning of one answer: each `reasoning_event` of the stream (README, "Reasoning mode")
// updates a card per step: the thought, the tools planned with their arguments, and the
// tool results (success or failure, time) as they arrive.
import { el, prettyJson, setCardState as setState, shortJson, statusCard } from "./dom.js";

/** The step cards of one answer, inside its `<details class="reasoning">` section. */
export class ReasoningView {
  constructor(section) {
    this.section = section;
    this.steps = section.querySelector(".steps");
    this.summary = section.querySelector(".reasoning-summary");
    this.pending = section.querySelector(".reasoning-pending");
    this.cards = new Map();
    this.complete = false; // reasoning_complete arrived
  }

  /** A reasoning request was sent: say so at once, the agent's first step can take seconds. */
  expect() {
    this.section.hidden = false;
    this.pending.hidden = false;
    this.summary.textContent = "· thinking…";
  }

  /** Apply one reasoning event; unknown types are ignored (a newer gateway may add some). */
  apply(event) {
    this.section.hidden = false;
    this.pending.hidden = true;
    const render = RENDERERS[event.type];
    if (render) render(this, event, event.metadata || {});
  }

  /** The card of step `step`, created when first seen. */
  card(step) {
    if (!this.cards.has(step)) {
      const card = stepCard(step);
      this.cards.set(step, card);
      this.steps.append(card);
    }
    return this.cards.get(step);
  }

  /**
   * The answer ended. `label` null: it completed; "stopped" or "interrupted": it ended before
   * the reasoning did, and no step or tool call may still claim to be thinking or running.
   */
  settle(label) {
    if (!this.pending.hidden) {
      if (label === "stopped") this.pending.textContent = "stopped before the first step";
      else this.section.hidden = true; // no reasoning came (an error says why, or another route answered)
    }
    if (!label) return;
    for (const card of this.cards.values()) {
      if (card.dataset.state === "done" || card.dataset.state === "failed") continue;
      setState(card, "stopped", label);
      for (const call of card.querySelectorAll(".tool-call[data-state=running]")) {
        call.dataset.state = "stopped";
        call.querySelector(".tool-outcome").textContent = label;
      }
    }
    if (this.complete) return;
    const last = Math.max(0, ...this.cards.keys());
    this.summary.textContent = last ? `· ${label} at step ${last}` : `· ${label}`;
  }
}

const RENDERERS = {
  iteration_start: (view, event) => {
    view.card(event.step_iteration);
    view.summary.textContent = `· step ${event.step_iteration}…`;
  },
  planning: (view, event, meta) => showPlan(view.card(event.step_iteration), meta),
  tool_execution_start: (view, event, meta) => showToolCalls(view.card(event.step_iteration), meta),
  tool_result: (view, event, meta) => {
    showToolResults(view.card(event.step_iteration), meta.tool_results || []);
  },
  iteration_complete: (view, event) => setState(view.card(event.step_iteration), "done", "done"),
  reasoning_complete: (view, _event, meta) => {
    view.complete = true;
    const reason = String(meta.stop_reason || "").replace(/_/g, " ");
    view.summary.textContent = `· ${meta.total_steps} step${meta.total_steps === 1 ? "" : "s"}, ${reason}`;
  },
  error: (view, event) => showError(view, event),
};

function stepCard(step) {
  return statusCard({ "data-testid": "step-card", "data-step": step, "data-state": "thinking" }, `Step ${step}`, "thinking…");
}

function showPlan(card, meta) {
  const planned = meta.tools_planned || [];
  const next = planned.length
    ? `Next: use ${planned.join(", ")}`
    : `Next: ${String(meta.next_action).replace(/_/g, " ")}`;
  card.querySelector(".step-body").append(
    el("p", { class: "thought", "data-testid": "step-thought", text: meta.thought }),
    el("p", { class: "next-action", text: next }),
  );
}

function showToolCalls(card, meta) {
  const calls = meta.tool_predictions || [];
  const list = el("ol", { class: "tool-calls" }, ...calls.map(toolCallItem));
  card.querySelector(".step-body").append(list);
  const together = calls.length > 1 && meta.concurrent_execution;
  setState(card, "tools", together ? "running tools concurrently…" : "running tools…");
}

function toolCallItem(call) {
  return el(
    "li",
    { class: "tool-call", "data-testid": "tool-call", "data-tool": call.tool_name, "data-state": "running" },
    el(
      "div",
      { class: "tool-head" },
      el("code", { class: "tool-name", text: call.tool_name }),
      el("span", { class: "tool-outcome", "data-testid": "tool-outcome", text: "running…" }),
    ),
    el("pre", { class: "tool-args", "data-testid": "tool-args", text: shortJson(call.arguments ?? {}) }),
    call.reasoning ? el("p", { class: "tool-why", text: `Why: ${call.reasoning}` }) : "",
  );
}

function showToolResults(card, results) {
  let list = card.querySelector(".tool-calls");
  if (!list) {
    list = el("ol", { class: "tool-calls" });
    card.querySelector(".step-body").append(list);
  }
  results.forEach((result, index) => {
    let item = list.children[index];
    if (!item) list.append((item = toolCallItem({ tool_name: result.tool_name })));
    fillResult(item, result);
  });
  const failed = results.filter((r) => !r.success).length;
  setState(card, "results", failed ? `${failed} tool call${failed === 1 ? "" : "s"} failed` : "tools done");
}

function fillResult(item, result) {
  const time = `${Math.round(result.execution_time_ms ?? 0)} ms`;
  item.dataset.state = result.success ? "ok" : "failed";
  item.querySelector(".tool-outcome").textContent = result.success ? `✓ ok · ${time}` : `✗ failed · ${time}`;
  item.append(
    result.success
      ? el("pre", { class: "tool-result", "data-testid": "tool-result", text: prettyJson(result.result ?? "") })
      : el("p", { class: "tool-error", "data-testid": "tool-result", text: result.error || "failed" }),
  );
}

function showError(view, event) {
  const message = event.error?.message || "the agent reported an error";
  const note = el("p", { class: "step-error", "data-testid": "reasoning-error", text: `Error: ${message}` });
  if (event.step_iteration == null) {
    view.steps.append(note);
    return;
  }
  const card = view.card(event.step_iteration);
  card.querySelector(".step-body").append(note);
  setState(card, "failed", "error");
}
