// The training worker of <color-bottleneck>: a relay. It loads the engine's module, hands
// each message from the page to the module's Worker (which reads it as the worker protocol's
// one Rust enum and carries it out), posts back what that returns, and between messages lets
// the Worker train chunk by chunk, resting as long as it says. Messages queue up and run
// between chunks, so a reset or a new sheet never lands in the middle of a read-back.

let worker = null;
const inbox = [];
let wake = null;

self.onmessage = ({ data }) => {
  inbox.push(data);
  wake?.();
};

/** The buffers of the typed arrays in a message, handed over rather than copied. */
function buffers(value, found = new Set(), depth = 0) {
  if (ArrayBuffer.isView(value)) found.add(value.buffer);
  else if (value && typeof value === 'object' && depth < 4) {
    for (const v of Object.values(value)) buffers(v, found, depth + 1);
  }
  return found;
}

const post = (messages) => { for (const m of messages) self.postMessage(m, [...buffers(m)]); };

async function handle(msg) {
  // The module itself comes first; everything after it is the Worker's.
  if (msg.type === 'init') {
    try {
      const wasm = await import(msg.glue);
      await wasm.default({ module_or_path: msg.module });
      worker = new wasm.Worker();
      self.postMessage({ type: 'reply', id: msg.id });
    } catch (e) {
      self.postMessage({ type: 'reply', id: msg.id, problem: { message: String(e?.message ?? e) } });
    }
    return;
  }
  try {
    if (!worker) throw new Error('the training engine stopped after a failure');
    post(await worker.handle(msg));
  } catch (e) {
    // The module answers every problem itself; this is for a trap in it or a message that
    // cannot be posted.
    const message = String(e?.message ?? e);
    if (msg.id !== undefined) self.postMessage({ type: 'reply', id: msg.id, problem: { message } });
    else self.postMessage({ type: 'failure', message });
  }
}

// Yields to the event loop without setTimeout's 4 ms clamp.
const channel = new MessageChannel();
const yieldNow = () => new Promise((resolve) => { channel.port1.onmessage = resolve; channel.port2.postMessage(0); });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function pump() {
  for (;;) {
    while (inbox.length) await handle(inbox.shift());
    if (worker?.wants_to_train()) {
      try {
        post(await worker.train_chunk());
      } catch (e) {
        // A trap in the module: its state is gone, so the page hears it and starts afresh.
        self.postMessage({ type: 'failure', message: String(e?.message ?? e) });
        worker = null;
        continue;
      }
      const rest = worker.rest_ms();
      await (rest > 1 ? sleep(rest) : yieldNow());
    } else {
      await new Promise((resolve) => { wake = resolve; });
      wake = null;
    }
  }
}

pump();
