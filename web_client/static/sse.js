// Server-Sent Events from a fetch body: the `data` of each event, as strings, in order.

/**
 * Split the complete events off the front of `buffer`.
 * Returns [datas, rest]: the data of each complete event (events without data lines are
 * skipped; several data lines are joined with "\n") and the unfinished tail to keep.
 */
export function takeEvents(buffer) {
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop();
  const datas = [];
  for (const block of blocks) {
    const lines = block.split("\n").filter((line) => line.startsWith("data:"));
    if (lines.length > 0) datas.push(lines.map((line) => line.slice(5).replace(/^ /, "")).join("\n"));
  }
  return [datas, rest];
}

/** Yield the data of each event of a streamed body (a ReadableStream of bytes) as it arrives. */
export async function* eventData(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      let datas;
      [datas, buffer] = takeEvents(buffer + value);
      yield* datas;
    }
  } finally {
    // Leaving early (after [DONE]) or by an abort: let go of the connection either way.
    reader.cancel().catch(() => {});
  }
}
