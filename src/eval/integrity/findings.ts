/** Capped lists of findings: the first N items plus the total count, so reports stay small. */

/** The default number of items a report lists per finding. */
export const DEFAULT_CAP = 50;

/** A list capped at some length, with the total number of items. */
export interface Capped<T> {
  items: T[];
  total: number;
}

/** Collects items up to `cap`, counting them all. */
export class CappedList<T> {
  private readonly list: T[] = [];
  private count = 0;

  constructor(private readonly cap: number = DEFAULT_CAP) {}

  /** Adds one item (kept only while under the cap). */
  push(item: T): void {
    this.count++;
    if (this.list.length < this.cap) this.list.push(item);
  }

  /** How many items were pushed. */
  get total(): number {
    return this.count;
  }

  /** The capped list as plain data. */
  toJSON(): Capped<T> {
    return { items: [...this.list], total: this.count };
  }
}

/** A record located in a file: `file:line`, with the offending value when one applies. */
export interface RecordRef {
  file: string;
  line: number;
  value?: unknown;
}
