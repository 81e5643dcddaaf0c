// The chat page: the login, settings, the conversations (kept in this browser), sending, stopping.
import { AnswerView } from "./answer.js";
import { GatewayError, getJson, openChat, postJson } from "./gateway.js";
import * as store from "./history.js";

const $ = (id) => document.getElementById(id);

const state = {
  config: { phoenix_url: "" },
  conversations: store.loadConversations(), // stored ones, most recent first
  current: null, // the conversation on screen (stored once it has a turn)
  controller: null, // the AbortController of the answer in flight
};

bindControls();
restoreSettings();
openConversation(state.conversations.find((c) => c.id === store.loadCurrentId()) ?? null);
start();

/** Show the login until the server says this browser may chat; then load the chat. */
async function start() {
  let session;
  try {
    session = await getJson("/api/session");
  } catch (error) {
    document.querySelector("[data-testid=gateway-url]").textContent = describe(error);
    return;
  }
  if (!session.authenticated) {
    showLogin();
    return;
  }
  delete document.body.dataset.login;
  $("login").hidden = true;
  $("layout").hidden = false;
  $("logout").hidden = session.open;
  loadConfig();
  loadModels();
  loadPaths();
}

function showLogin() {
  document.body.dataset.login = "required"; // app.css hides the chat's buttons meanwhile
  $("layout").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("password").focus();
}

async function logIn(event) {
  event.preventDefault();
  const error = document.querySelector("[data-testid=login-error]");
  try {
    await postJson("/api/login", { password: $("password").value });
  } catch (failure) {
    error.textContent = describe(failure);
    error.hidden = false;
    return;
  }
  $("password").value = "";
  error.hidden = true;
  start();
}

async function logOut() {
  state.controller?.abort();
  await postJson("/api/logout", {}).catch(() => null);
  showLogin();
}

function bindControls() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  $("stop").addEventListener("click", () => state.controller?.abort());
  $("new-chat").addEventListener("click", newChat);
  $("export-markdown").addEventListener("click", () => exportCurrent("md", "text/markdown", store.toMarkdown));
  $("export-json").addEventListener("click", () => exportCurrent("json", "application/json", store.toJson));
  for (const id of ["routing-mode", "model", "temperature", "system-prompt"]) {
    $(id).addEventListener("input", rememberSettings);
    $(id).addEventListener("change", rememberSettings);
  }
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("settings-toggle").addEventListener("click", () => setSettingsOpen(!settingsDrawerOpen()));
  // A tap in the conversation or the composer puts the drawer away, as on any phone.
  document.querySelector(".chat").addEventListener("pointerdown", () => setSettingsOpen(false));
  // Esc closes the settings drawer when it is open, else stops the answer in flight.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.isComposing) return;
    if (settingsDrawerOpen()) {
      setSettingsOpen(false);
      $("settings-toggle").focus();
    } else {
      state.controller?.abort();
    }
  });
}

/** The settings are a drawer only on narrow screens, where app.css shows the Settings button. */
function settingsDrawerOpen() {
  return $("settings").classList.contains("open") && $("settings-toggle").offsetParent !== null;
}

function setSettingsOpen(open) {
  $("settings").classList.toggle("open", open);
  $("settings-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("routing-mode").focus();
}

async function loadConfig() {
  try {
    state.config = await getJson("/api/config");
    document.querySelector("[data-testid=gateway-url]").textContent = `gateway: ${state.config.gateway_url}`;
  } catch (error) {
    document.querySelector("[data-testid=gateway-url]").textContent = describe(error);
  }
}

/** Fill the model selector from the gateway's /v1/models; any other name can still be typed. */
async function loadModels() {
  const status = $("models-status");
  try {
    const { data } = await getJson("/api/models");
    $("model-options").replaceChildren(...data.map((id) => new Option(id, id)));
    const input = $("model");
    input.placeholder = "type or pick a model";
    if (!input.value) input.value = data.find((id) => !id.includes("/")) ?? data[0] ?? "";
    status.textContent = `${data.length} models from the gateway`;
  } catch (error) {
    status.textContent = `Could not list models: ${describe(error)}`;
    status.classList.add("error");
  }
}

/** Say in the mode picker when the gateway's /v1/routes has orchestration off (it answers 501 then). */
async function loadPaths() {
  const option = $("routing-mode").querySelector("option[value=orchestration]");
  try {
    const { paths } = await getJson("/api/paths");
    const state = paths.orchestration;
    option.dataset.path = state ?? "unknown";
    if (state && state !== "enabled") option.textContent = "orchestration (off here: 501)";
  } catch {
    // An older gateway or a refused scope: the picker stays as it is; a request says what happens.
  }
}

/** The chosen mode, model, temperature and system prompt, as they were last time. */
function restoreSettings() {
  const saved = store.loadSettings();
  if (["auto", "passthrough", "reasoning", "orchestration"].includes(saved.routing_mode)) {
    $("routing-mode").value = saved.routing_mode;
  }
  if (typeof saved.model === "string") $("model").value = saved.model;
  if (typeof saved.temperature === "string") $("temperature").value = saved.temperature;
  if (typeof saved.system_prompt === "string") $("system-prompt").value = saved.system_prompt;
}

function rememberSettings() {
  store.saveSettings({
    routing_mode: $("routing-mode").value,
    model: $("model").value,
    temperature: $("temperature").value,
    system_prompt: $("system-prompt").value,
  });
}

/** Show `conversation` (null: a new, empty one) and list the stored ones beside it. */
function openConversation(conversation) {
  state.current = conversation ?? store.newConversation(newId("chat"), newId("session"));
  store.saveCurrentId(conversation ? conversation.id : null);
  $("conversation").replaceChildren();
  for (const turn of state.current.turns) {
    if (turn.role === "user") appendUserTurn(turn.content);
    else restoreAnswer(turn);
  }
  renderHistory();
  scrollToBottom();
}

function restoreAnswer(turn) {
  const answer = appendAnswer(turn.clientRequestId ?? "");
  if (turn.meta) answer.restoreMeta(turn.meta);
  for (const event of turn.events ?? []) answer.reasoning.apply(event);
  for (const event of turn.orchestrationEvents ?? []) answer.orchestration.apply(event);
  answer.text = turn.content ?? "";
  if (turn.usage) answer.showUsage(turn.usage);
  if (turn.error) answer.fail(turn.error);
  answer.finish(turn.state ?? "done");
}

/** Store `conversation` (first in the list: the most recent), and redraw the list. */
function keep(conversation) {
  conversation.updated = new Date().toISOString();
  state.conversations = [conversation, ...state.conversations.filter((c) => c.id !== conversation.id)];
  const saved = store.saveConversations(state.conversations);
  if (conversation === state.current) store.saveCurrentId(conversation.id);
  renderHistory();
  if (!saved) $("history-status").textContent = "This browser's storage is full: delete or export old conversations.";
}

function renderHistory() {
  const items = state.conversations.map((conversation) => {
    const item = $("history-item").content.firstElementChild.cloneNode(true);
    item.dataset.id = conversation.id;
    if (conversation.id === state.current?.id) item.setAttribute("aria-current", "true");
    const open = item.querySelector("[data-testid=history-open]");
    open.textContent = conversation.title;
    open.title = `${conversation.title} (${conversation.updated.slice(0, 16).replace("T", " ")})`;
    open.addEventListener("click", () => switchTo(conversation));
    const rename = item.querySelector("[data-testid=history-rename]");
    rename.setAttribute("aria-label", `Rename “${conversation.title}”`);
    rename.addEventListener("click", () => renameConversation(conversation));
    const remove = item.querySelector("[data-testid=history-delete]");
    remove.setAttribute("aria-label", `Delete “${conversation.title}”`);
    remove.addEventListener("click", () => deleteConversation(conversation));
    return item;
  });
  $("history").replaceChildren(...items);
  $("history-status").textContent = items.length ? "" : "No conversations yet: they are kept in this browser.";
  const empty = !state.current?.turns.length;
  $("export-markdown").disabled = empty;
  $("export-json").disabled = empty;
}

function switchTo(conversation) {
  state.controller?.abort();
  openConversation(conversation);
  setSettingsOpen(false); // on a phone, back to the conversation
}

function renameConversation(conversation) {
  const title = window.prompt("Rename the conversation", conversation.title)?.trim();
  if (!title) return;
  conversation.title = title;
  keep(conversation);
}

function deleteConversation(conversation) {
  if (!window.confirm(`Delete “${conversation.title}” from this browser?`)) return;
  state.conversations = state.conversations.filter((c) => c.id !== conversation.id);
  store.saveConversations(state.conversations);
  if (conversation.id === state.current?.id) {
    state.controller?.abort();
    openConversation(null);
  } else {
    renderHistory();
  }
}

function exportCurrent(extension, type, format) {
  const conversation = state.current;
  if (!conversation?.turns.length) return;
  const url = URL.createObjectURL(new Blob([format(conversation)], { type }));
  const link = Object.assign(document.createElement("a"), { href: url, download: store.exportName(conversation, extension) });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function buildRequest(conversation, text) {
  const system = $("system-prompt").value.trim();
  const temperature = $("temperature").value;
  return {
    model: $("model").value.trim(),
    messages: [
      ...(system ? [{ role: "system", content: system }] : []),
      ...store.messagesOf(conversation),
      { role: "user", content: text },
    ],
    routing_mode: $("routing-mode").value,
    temperature: temperature === "" ? null : Number(temperature),
    session_id: conversation.sessionId,
    request_id: newId("web"),
  };
}

async function send() {
  const text = $("prompt").value;
  if (!text.trim() || state.controller) return;
  if (!$("model").value.trim()) {
    $("models-status").textContent = "Choose a model first.";
    return;
  }
  // This conversation, even if New chat or another conversation replaces it while the answer streams.
  const conversation = state.current;
  const request = buildRequest(conversation, text);
  rememberSettings();
  $("prompt").value = "";
  appendUserTurn(text);
  conversation.turns.push({ role: "user", content: text });
  if (conversation.title === store.UNTITLED) conversation.title = store.titleFrom(text);
  keep(conversation);
  const answer = appendAnswer(request.request_id);
  let ended = "error";
  // The agent answers nothing until its first step is planned: show that it is at work.
  if (request.routing_mode === "reasoning" || request.model.startsWith("reasoning/")) answer.reasoning.expect();
  else if (request.routing_mode === "orchestration" || request.model.startsWith("orchestrate/")) answer.orchestration.expect();
  state.controller = new AbortController();
  setBusy(true);
  try {
    const { headers, chunks } = await openChat(request, state.controller.signal);
    answer.showMeta(headers);
    for await (const chunk of chunks) {
      const follow = nearBottom();
      answer.applyChunk(chunk);
      if (follow) scrollToBottom();
    }
    ended = answer.failed ? "error" : "done";
  } catch (error) {
    if (error.name === "AbortError") {
      ended = "stopped";
    } else {
      if (error instanceof GatewayError) answer.showMeta(error.headers);
      answer.fail(describe(error));
      if (error instanceof GatewayError && error.code === "login_required") showLogin(); // the login expired
    }
  } finally {
    answer.finish(ended);
    // What was shown of the answer (even a stopped one) is part of the conversation.
    conversation.turns.push({
      role: "assistant",
      content: answer.text,
      state: ended,
      clientRequestId: request.request_id,
      meta: answer.meta,
      events: answer.events,
      ...(answer.orchestrationEvents.length ? { orchestrationEvents: answer.orchestrationEvents } : {}),
      usage: answer.usage,
      error: answer.errorText,
    });
    keep(conversation);
    state.controller = null;
    setBusy(false);
    scrollToBottom();
  }
}

function newChat() {
  state.controller?.abort();
  openConversation(null);
  $("prompt").focus();
}

function appendUserTurn(text) {
  const turn = $("user-turn").content.firstElementChild.cloneNode(true);
  turn.querySelector(".bubble").textContent = text;
  $("conversation").append(turn);
  scrollToBottom();
}

function appendAnswer(requestId) {
  const turn = $("assistant-turn").content.firstElementChild.cloneNode(true);
  // The page's id for this answer, sent as X-Client-Request-Id: the gateway keeps it beside its own
  // X-Request-Id (which `showMeta` puts in `data-request-id` once the answer's headers arrive).
  turn.dataset.clientRequestId = requestId;
  $("conversation").append(turn);
  scrollToBottom();
  return new AnswerView(turn, state.config.phoenix_url);
}

function setBusy(busy) {
  $("send").hidden = busy;
  $("stop").hidden = !busy;
  document.body.dataset.busy = String(busy);
}

function describe(error) {
  if (error instanceof GatewayError) return error.describe();
  return `The web client could not be reached: ${error.message}`;
}

function nearBottom() {
  const list = $("conversation");
  return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
}

function scrollToBottom() {
  const list = $("conversation");
  list.scrollTop = list.scrollHeight;
}

/** A random id (X-Session-ID per conversation, X-Client-Request-Id per answer); needs no secure context. */
function newId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
