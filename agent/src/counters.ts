/**
 * Named event counters of the gateway (published in its status as post-market signal):
 * every rejected, withdrawn or failed thing is counted by cause, never dropped in silence.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  count(name: string, n = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + n);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.values);
  }
}
