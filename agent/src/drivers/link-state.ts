/**
 * Link state of one device interface, changed only through the table of legal
 * transitions, each with its reason. An illegal transition is a software fault: it is
 * refused, counted and logged, and the state stays as it was.
 *
 *   connecting  -> negotiating | streaming | lost
 *   negotiating -> streaming | stale | lost
 *   streaming   -> stale | lost
 *   stale       -> streaming | lost | connecting (escalation: reopen)
 *   lost        -> connecting
 */
import type { LinkState } from './driver';

export const LEGAL_TRANSITIONS: Readonly<Record<LinkState, readonly LinkState[]>> = {
  connecting: ['negotiating', 'streaming', 'lost'],
  negotiating: ['streaming', 'stale', 'lost'],
  streaming: ['stale', 'lost'],
  stale: ['streaming', 'lost', 'connecting'],
  lost: ['connecting'],
};

export function isLegalTransition(from: LinkState, to: LinkState): boolean {
  return LEGAL_TRANSITIONS[from].includes(to);
}

export class LinkStateMachine {
  private current: LinkState = 'connecting';
  private why = 'starting';
  illegal = 0;

  constructor(private readonly onChange: (from: LinkState, to: LinkState, reason: string) => void, private readonly onIllegal: (from: LinkState, to: LinkState) => void) {}

  get state(): LinkState {
    return this.current;
  }

  get reason(): string {
    return this.why;
  }

  /** Moves to `to` if the table allows it; returns whether it did. Same state: reason updated only. */
  to(to: LinkState, reason: string): boolean {
    const from = this.current;
    if (from === to) {
      this.why = reason;
      return true;
    }
    if (!isLegalTransition(from, to)) {
      this.illegal += 1;
      this.onIllegal(from, to);
      return false;
    }
    this.current = to;
    this.why = reason;
    this.onChange(from, to, reason);
    return true;
  }
}

/**
 * Reopen delay after the n-th consecutive failure: exponential from `baseMs`, capped at
 * `capMs`, with +-20 % jitter so that many gateways do not retry in step.
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(exp * (0.8 + 0.4 * random()));
}
