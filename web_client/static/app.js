// The chat page: settings, the conversation (kept in the page), sending, stopping.
import { AnswerView } from "./answer.js";
import { GatewayError, getJson, openChat, postJson } from "./gateway.js";

const $ = (id) => document.getElementById(id);

const state = {
  config: { phoenix_url: "" },
  history: [], // the conversation sent with each request: {role, content}
  sessionId: newId("session"),
  controller: null, // the AbortController of the answer in flight
};

bindControls();
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
  $("login").hidden = true;
  $("layout").hidden = false;
  $("logout").hidden = session.open;
  loadConfig();
  loadModels();
}

function showLogin() {
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

function buildRequest(text) {
  const system = $("system-prompt").value.trim();
  const temperature = $("temperature").value;
  return {
    model: $("model").value.trim(),
    messages: [
      ...(system ? [{ role: "system", content: system }] : []),
      ...state.history,
      { role: "user", content: text },
    ],
    routing_mode: $("routing-mode").value,
    temperature: temperature === "" ? null : Number(temperature),
    session_id: state.sessionId,
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
  const request = buildRequest(text);
  // This conversation's history, even if New chat replaces it while the answer streams.
  const history = state.history;
  $("prompt").value = "";
  appendUserTurn(text);
  history.push({ role: "user", content: text });
  const answer = appendAnswer(request.request_id);
  // The agent answers nothing until its first step is planned: show that it is at work.
  if (request.routing_mode === "reasoning" || request.model.startsWith("reasoning/")) answer.reasoning.expect();
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
    answer.finish(answer.failed ? "error" : "done");
  } catch (error) {
    if (error.name === "AbortError") {
      answer.finish("stopped");
    } else {
      if (error instanceof GatewayError) answer.showMeta(error.headers);
      answer.fail(describe(error));
      answer.finish("error");
    }
  } finally {
    // What was shown of the answer (even a stopped one) is part of the conversation.
    if (answer.text) history.push({ role: "assistant", content: answer.text });
    state.controller = null;
    setBusy(false);
    scrollToBottom();
  }
}

function newChat() {
  state.controller?.abort();
  state.history = [];
  state.sessionId = newId("session");
  $("conversation").replaceChildren();
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
