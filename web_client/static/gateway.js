// The page's calls to its own server (web_client), which adds the gateway token and forwards
// to the gateway's OpenAI-compatible API. Errors arrive in the gateway's shape:
// {"error": {"message", "type", "code"}} with the gateway's HTTP status.
import { eventData } from "./sse.js";

/** An HTTP error answer, readable: status, code, message (and the gateway's headers). */
export class GatewayError extends Error {
  constructor(status, body, headers = new Headers()) {
    const error = body?.error ?? {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || error.type || null;
    this.headers = headers;
  }

  describe() {
    return `Error ${this.status}${this.code ? ` (${this.code})` : ""}: ${this.message}`;
  }
}

/** GET a JSON endpoint of the web client; throws GatewayError on an error status. */
export async function getJson(path) {
  const response = await fetch(path);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new GatewayError(response.status, body, response.headers);
  return body;
}

/** POST JSON to an endpoint of the web client; throws GatewayError on an error status. */
export async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new GatewayError(response.status, answer, response.headers);
  return answer;
}

/**
 * POST a chat request; resolves once the gateway answered with headers.
 * Returns {headers, chunks}: `chunks` yields each decoded JSON event of the stream until [DONE]
 * (`chat.completion.chunk`s, or a final `{"error": ...}`). Rejects with GatewayError on an
 * HTTP error, or with an AbortError once `signal` aborts.
 */
export async function openChat(request, signal) {
  const response = await fetch("/api/chat", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
    signal,
  });
  if (!response.ok) {
    throw new GatewayError(response.status, await response.json().catch(() => null), response.headers);
  }
  return { headers: response.headers, chunks: jsonEvents(response.body) };
}

async function* jsonEvents(body) {
  for await (const data of eventData(body)) {
    if (data === "[DONE]") return;
    try {
      yield JSON.parse(data);
    } catch {
      // Half an event, cut off by a broken connection: the error event after it says why.
    }
  }
}
