/** Process liveness checks, for telling a crashed writer's leftovers from work in progress. */
import { hostname } from 'node:os';

/**
 * True when process `pid` on `host` is known to be gone: the host is this machine and no process
 * has that pid. A process on another host is never known to be gone (returns false).
 */
export function isProcessGone(host: string, pid: number): boolean {
  if (host !== hostname() || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
