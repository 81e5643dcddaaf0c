// Conversations and the chat settings, kept in this browser's localStorage (the gateway and
// the web client's server stay stateless). One key per kind, versioned, so a later shape can
// migrate. A full storage (quota) loses nothing on the page: saving just reports false.

const CONVERSATIONS_KEY = "reasoning-agent.conversations.v1";
const CURRENT_KEY = "reasoning-agent.current.v1";
const SETTINGS_KEY = "reasoning-agent.settings.v1";
export const UNTITLED = "New chat";
const TITLE_LENGTH = 60;

function read(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key));
    return value ?? fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

/** The stored conversations, most recently updated first. */
export function loadConversations() {
  const list = read(CONVERSATIONS_KEY, []);
  return Array.isArray(list) ? list.filter((c) => c && c.id && Array.isArray(c.turns)) : [];
}

export function saveConversations(list) {
  return write(CONVERSATIONS_KEY, list);
}

export const loadCurrentId = () => read(CURRENT_KEY, null);
export const saveCurrentId = (id) => write(CURRENT_KEY, id);
export const loadSettings = () => read(SETTINGS_KEY, {});
export const saveSettings = (settings) => write(SETTINGS_KEY, settings);

export function newConversation(id, sessionId) {
  const now = new Date().toISOString();
  return { id, title: UNTITLED, sessionId, created: now, updated: now, turns: [] };
}

/** A conversation's title from its first question: its first line, cut short. */
export function titleFrom(text) {
  const line = text.trim().split("\n")[0].trim();
  if (!line) return UNTITLED;
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line;
}

/** The messages sent to the gateway: every turn with text (a stopped answer's part included). */
export function messagesOf(conversation) {
  return conversation.turns.filter((turn) => turn.content).map(({ role, content }) => ({ role, content }));
}

/** The conversation as Markdown: a heading, then each turn under its speaker. */
export function toMarkdown(conversation) {
  const lines = [`# ${conversation.title}`, "", `_${conversation.created}_`, ""];
  for (const turn of conversation.turns) {
    lines.push(turn.role === "user" ? "## You" : "## Assistant", "");
    if (turn.content) lines.push(turn.content, "");
    const notes = [turn.meta?.path, turn.meta?.requestId, usageText(turn.usage)].filter(Boolean);
    if (turn.role === "assistant" && notes.length) lines.push(`<sub>${notes.join(" · ")}</sub>`, "");
    if (turn.error) lines.push(`> ${turn.error}`, "");
    if (turn.state === "stopped") lines.push("> Stopped.", "");
  }
  return lines.join("\n");
}

/** The conversation as JSON: its messages in the OpenAI shape, and what the page knew of each answer. */
export function toJson(conversation) {
  const turns = conversation.turns.map((turn) => ({
    role: turn.role,
    content: turn.content,
    ...(turn.role === "assistant"
      ? { state: turn.state, routing_path: turn.meta?.path ?? null, request_id: turn.meta?.requestId ?? null }
      : {}),
    ...(turn.usage ? { usage: turn.usage } : {}),
    ...(turn.error ? { error: turn.error } : {}),
  }));
  const { title, id, sessionId, created, updated } = conversation;
  return JSON.stringify({ title, id, session_id: sessionId, created, updated, messages: turns }, null, 2);
}

/** A file name for an export: the title as a slug. */
export function exportName(conversation, extension) {
  const slug = conversation.title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40);
  return `${slug || "conversation"}.${extension}`;
}

/** "12 + 30 = 42 tokens", plus " · $0.0012" when the answer reported a cost (`cost_usd`, or
 * `cost` as LiteLLM puts it in a stream's usage chunk, which passthrough forwards). */
export function usageText(usage) {
  if (!usage || usage.total_tokens == null) return "";
  const tokens = `${usage.prompt_tokens ?? "?"} + ${usage.completion_tokens ?? "?"} = ${usage.total_tokens} tokens`;
  const cost = typeof usage.cost_usd === "number" ? usage.cost_usd : usage.cost;
  return typeof cost === "number" ? `${tokens} · ${costText(cost)}` : tokens;
}

export function costText(cost) {
  return `$${cost < 0.01 ? cost.toPrecision(2) : cost.toFixed(4)}`;
}
