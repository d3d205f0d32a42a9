/**
 * The audit log's hash chain (pure). Each entry carries the hash of the entry before it; an entry's
 * hash is the sha256 of the canonical JSON of {at, actor, action, payload, prev_hash}. The sequence
 * number orders entries but is not hashed, so verification can tell an inserted entry (the next one
 * still chains to the one before it) from an edited one (its own hash no longer matches) and a
 * deleted one (a gap in the numbers, or an entry that chains to nothing present).
 */
import { digestOf } from '../core/digest.js';

/** The prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** An audit entry as stored. */
export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  /** Canonical JSON text of the payload. */
  payload: string;
  prev_hash: string;
  hash: string;
}

/** The hash an entry must carry. */
export function auditEntryHash(e: Omit<AuditEntry, 'seq' | 'hash'>): string {
  let payload: unknown;
  try {
    payload = JSON.parse(e.payload) as unknown;
  } catch {
    payload = { unparseable: e.payload };
  }
  return digestOf({ at: e.at, actor: e.actor, action: e.action, payload, prev_hash: e.prev_hash });
}

/** What `audit verify` found. */
export interface AuditVerdict {
  ok: boolean;
  /** Entries examined. */
  entries: number;
  /** The last entry's sequence number and hash (anchor it elsewhere to detect truncation). */
  head: { seq: number; hash: string } | null;
  /** The first problem, when not ok. */
  first?: {
    seq: number;
    problem: 'edited' | 'inserted' | 'deleted';
    detail: string;
  };
}

/**
 * Verifies a chain given in sequence order. Reports the first entry that was edited (its hash does
 * not match its content, or its successor recorded another hash for it), inserted (its successor
 * chains past it) or deleted (a gap in the numbers, or an entry chaining to a missing one).
 * `expectedHead`, when given, must be the hash of the last entry (detects truncation).
 */
export function verifyAuditChain(entries: readonly AuditEntry[], expectedHead?: string): AuditVerdict {
  const head = entries.length > 0 ? entries[entries.length - 1] : undefined;
  const base = {
    entries: entries.length,
    head: head === undefined ? null : { seq: head.seq, hash: head.hash },
  };
  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  const seen = new Map<string, number>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as AuditEntry;
    const next = entries[i + 1];
    if (e.seq !== prevSeq + 1 && e.prev_hash !== prevHash) {
      return {
        ...base,
        ok: false,
        first: {
          seq: prevSeq + 1,
          problem: 'deleted',
          detail: `entries ${prevSeq + 1}..${e.seq - 1} are missing (entry ${e.seq} chains to a hash no entry has)`,
        },
      };
    }
    if (auditEntryHash(e) !== e.hash) {
      return {
        ...base,
        ok: false,
        first: { seq: e.seq, problem: 'edited', detail: `entry ${e.seq} does not hash to its recorded hash` },
      };
    }
    if (e.prev_hash !== prevHash) {
      const earlier = seen.get(e.prev_hash);
      if (earlier !== undefined) {
        return {
          ...base,
          ok: false,
          first: {
            seq: earlier + 1,
            problem: 'inserted',
            detail: `entry ${e.seq} chains to entry ${earlier}: the entries between were inserted`,
          },
        };
      }
      if (next !== undefined && next.prev_hash === prevHash) {
        return {
          ...base,
          ok: false,
          first: {
            seq: e.seq,
            problem: 'inserted',
            detail: `entry ${e.seq} is not in the chain: entry ${next.seq} chains to entry ${prevSeq}`,
          },
        };
      }
      if (next === undefined && i > 0) {
        return {
          ...base,
          ok: false,
          first: {
            seq: e.seq,
            problem: 'inserted',
            detail: `entry ${e.seq} does not chain to entry ${prevSeq}`,
          },
        };
      }
      if (i === 0) {
        return {
          ...base,
          ok: false,
          first: { seq: e.seq, problem: 'deleted', detail: `entries before ${e.seq} are missing` },
        };
      }
      return {
        ...base,
        ok: false,
        first: {
          seq: e.seq,
          problem: 'deleted',
          detail: `entry ${e.seq} chains to a hash no present entry has: an entry before it was deleted (or entry ${prevSeq} was rewritten and re-hashed)`,
        },
      };
    }
    if (e.seq !== prevSeq + 1) {
      return {
        ...base,
        ok: false,
        first: { seq: prevSeq + 1, problem: 'deleted', detail: `sequence jumps from ${prevSeq} to ${e.seq}` },
      };
    }
    seen.set(prevHash, prevSeq);
    prevHash = e.hash;
    prevSeq = e.seq;
  }
  if (expectedHead !== undefined && head?.hash !== expectedHead) {
    return {
      ...base,
      ok: false,
      first: {
        seq: prevSeq + 1,
        problem: 'deleted',
        detail: `the chain ends at ${head?.hash ?? 'nothing'}, not at the expected head ${expectedHead}`,
      },
    };
  }
  return { ...base, ok: true };
}
