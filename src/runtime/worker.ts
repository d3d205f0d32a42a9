/**
 * The worker-thread side of SessionPool: opens one onnxruntime session on the model named in
 * workerData, answers 'run' messages with the outputs (buffers transferred), and reports errors as
 * {code, message}. Not imported by anything; SessionPool starts it as a Worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { asDrivegateError } from '../core/errors.js';
import { openOrtSession, runOrtSession, sessionIO } from './ort.js';
import { monoMs, transferList, type PoolReply, type PoolRequest, type PoolWorkerData } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('runtime worker must run in a worker thread');
const data = workerData as PoolWorkerData;

try {
  const session = await openOrtSession(data.modelPath, {
    ...(data.intraOpThreads !== undefined ? { intraOpThreads: data.intraOpThreads } : {}),
    ...(data.allowSpinning !== undefined ? { allowSpinning: data.allowSpinning } : {}),
    ...(data.sessionConfig !== undefined ? { sessionConfig: data.sessionConfig } : {}),
  });
  // The run in progress: 'close' waits for it, since ending a thread inside onnxruntime's run aborts
  // the whole process.
  let inflight: Promise<void> = Promise.resolve();
  let runStart = 0;
  let runEnd = 0;
  port.on('message', (msg: PoolRequest) => {
    if (msg.type === 'close') {
      void inflight.then(() => session.release()).finally(() => port.close());
      return;
    }
    const received = monoMs();
    inflight = runOrtSession(session, data.modelPath, msg.feeds, msg.outputNames, (start, end) => {
      runStart = start;
      runEnd = end;
    }).then(
      (outputs) => {
        // onnxruntime's output buffers may be views; copy those that cannot be transferred whole.
        for (const t of Object.values(outputs)) {
          if (t.data.byteOffset !== 0 || t.data.byteLength !== t.data.buffer.byteLength) {
            t.data = t.data.slice();
          }
        }
        const reply: PoolReply = {
          type: 'result',
          id: msg.id,
          outputs,
          timing: [received, runStart, runEnd, monoMs()],
        };
        port.postMessage(reply, transferList(outputs));
      },
      (err: unknown) => {
        const e = asDrivegateError(err);
        const reply: PoolReply = { type: 'error', id: msg.id, code: e.code, message: e.message };
        port.postMessage(reply);
      },
    );
  });
  const ready: PoolReply = { type: 'ready', io: sessionIO(session) };
  port.postMessage(ready);
} catch (err) {
  const e = asDrivegateError(err);
  const reply: PoolReply = { type: 'error', id: -1, code: e.code, message: e.message };
  port.postMessage(reply);
}
