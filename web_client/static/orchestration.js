// The orchestration of one answer: each `orchestration_event` of the stream (README,
// "Orchestration") updates the plan and a card per task, side by side: its agent, what it
// waits for, its progress lines, then its result, its error, or why it was skipped.
import { el, setCardState, statusCard } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

/** The task cards of one answer, inside its `<details class="reasoning orchestration">` section. */
export class OrchestrationView {
  constructor(section) {
    this.section = section;
    this.summary = section.querySelector(".reasoning-summary");
    this.pending = section.querySelector(".reasoning-pending");
    this.planLine = section.querySelector(".plan-line");
    this.tasks = section.querySelector(".tasks");
    this.notes = section.querySelector(".orchestration-notes");
    this.cards = new Map();
    this.complete = false; // orchestration_complete arrived
  }

  /** An orchestration request was sent: say so at once, the plan takes an LLM call. */
  expect() {
    this.section.hidden = false;
    this.pending.hidden = false;
    this.summary.textContent = "· planning…";
  }

  /** Apply one orchestration event; unknown types are ignored (a newer gateway may add some). */
  apply(event) {
    this.section.hidden = false;
    this.pending.hidden = true;
    const render = RENDERERS[event.type];
    if (render) render(this, event, event.metadata || {});
  }

  /** The card of task `id`, created when first seen (a plan creates them all at once). */
  card(id, agent = null) {
    if (!this.cards.has(id)) {
      const card = taskCard({ id, agent, instruction: "", depends_on: [] });
      this.cards.set(id, card);
      this.tasks.append(el("li", { class: "task" }, card));
    }
    return this.cards.get(id);
  }

  /** The answer ended; `label` as for ReasoningView.settle: null, "stopped" or "interrupted". */
  settle(label) {
    if (!this.pending.hidden) {
      if (label === "stopped") this.pending.textContent = "stopped before the plan";
      else this.section.hidden = true; // no orchestration came (an error says why, or another route answered)
    }
    if (!label) return;
    for (const card of this.cards.values()) {
      if (["done", "failed", "skipped"].includes(card.dataset.state)) continue;
      setCardState(card, "stopped", label);
    }
    if (!this.complete) this.summary.textContent = `· ${label}`;
  }
}

const RENDERERS = {
  plan: (view, _event, meta) => showPlan(view, meta.tasks || []),
  task_start: (view, event) => setCardState(view.card(event.task_id, event.agent), "running", "running…"),
  task_update: (view, event, meta) => addUpdate(view.card(event.task_id, event.agent), meta.message),
  task_result: (view, event, meta) => showResult(view.card(event.task_id, event.agent), meta),
  task_skipped: (view, event, meta) => showSkipped(view.card(event.task_id, event.agent), meta),
  orchestration_complete: (view, _event, meta) => {
    view.complete = true;
    const parts = [plural(meta.total_tasks, "task")];
    if (meta.failed_tasks) parts.push(`${meta.failed_tasks} failed`);
    if (meta.skipped_tasks) parts.push(`${meta.skipped_tasks} skipped`);
    parts.push(String(meta.stop_reason || "").replace(/_/g, " "));
    view.summary.textContent = `· ${parts.join(", ")}`;
  },
  error: (view, event) => showError(view, event),
};

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function showPlan(view, tasks) {
  const agents = [...new Set(tasks.map((task) => task.agent))];
  const waits = tasks.filter((task) => task.depends_on?.length).map((task) => `${task.id} after ${task.depends_on.join(", ")}`);
  const line = [`Plan: ${plural(tasks.length, "task")} on ${agents.join(", ")}`, ...waits].join(" · ");
  view.planLine.textContent = line;
  view.planLine.hidden = false;
  view.summary.textContent = `· ${plural(tasks.length, "task")}…`;
  for (const task of tasks) {
    const card = taskCard(task);
    view.cards.get(task.id)?.closest("li").remove(); // a card an event made before the plan
    view.cards.set(task.id, card);
    view.tasks.append(el("li", { class: "task" }, card));
  }
}

function taskCard(task) {
  const after = task.depends_on?.length ? task.depends_on.join(", ") : "";
  const card = statusCard(
    { "data-testid": "task-card", "data-task": task.id, "data-agent": task.agent ?? "", "data-state": "planned" },
    `Task ${task.id}`,
    after ? `waiting for ${after}` : "queued",
  );
  const facts = [`agent: ${task.agent ?? "?"}`, ...(after ? [`after ${after}`] : [])].join(" · ");
  card.querySelector(".step-body").append(
    el("p", { class: "next-action", "data-testid": "task-agent", text: facts }),
    task.instruction ? el("p", { class: "thought", "data-testid": "task-instruction", text: task.instruction }) : "",
  );
  return card;
}

function addUpdate(card, message) {
  let list = card.querySelector(".task-updates");
  if (!list) {
    list = el("ol", { class: "task-updates", "data-testid": "task-updates", "aria-label": "Progress" });
    card.querySelector(".step-body").append(list);
  }
  list.append(el("li", { class: "task-update", "data-testid": "task-update", text: message || "" }));
}

function showResult(card, meta) {
  const time = `${Math.round(meta.execution_time_ms ?? 0)} ms`;
  const body = card.querySelector(".step-body");
  if (meta.success) {
    const result = el("div", { class: "tool-result task-result markdown", "data-testid": "task-result" });
    result.innerHTML = renderMarkdown(meta.result || "(empty)");
    body.append(result);
    setCardState(card, "done", `✓ done · ${time}`);
  } else {
    body.append(el("p", { class: "tool-error", "data-testid": "task-error", text: meta.error || "failed" }));
    setCardState(card, "failed", `✗ failed · ${time}`);
  }
}

function showSkipped(card, meta) {
  card.querySelector(".step-body").append(el("p", { class: "next-action", "data-testid": "task-skipped", text: `Skipped: ${meta.reason}.` }));
  setCardState(card, "skipped", "skipped");
}

function showError(view, event) {
  const message = event.error?.message || "the orchestrator reported an error";
  const note = el("p", { class: "step-error", "data-testid": "orchestration-error", text: `Error: ${message}` });
  if (event.task_id == null) {
    view.notes.append(note);
    return;
  }
  const card = view.card(event.task_id, event.agent);
  card.querySelector(".step-body").append(note);
  setCardState(card, "failed", "error");
}
