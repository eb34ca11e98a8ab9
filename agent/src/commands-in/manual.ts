/**
 * Manual observations entered at the station: the NEWS2 inputs no device supplies
 * (consciousness ACVPU, air or supplemental oxygen) and the patient's SpO2 scale.
 * Each keeps its provenance (who, which command, which station, when) and has its own
 * maximum age on the gateway's monotonic clock: past it, the input leaves the score
 * (which becomes incomplete again) instead of being used from memory.
 */
import type { Clock } from '../clock';
import { elapsedMs } from '../clock';
import type { ObservationMsg } from '../proto/codec';
import type { ManualInputs } from '../scoring/news2-stage';
import type { Acvpu } from './schema';

export type ManualParameter = 'consciousness' | 'onOxygen' | 'spo2Scale';

export interface Provenance {
  enteredBy: string;
  commandId: string;
  stationId: string;
  /** Station wall clock when the command was issued. */
  enteredWallMs: number;
}

export interface Entry<T> {
  value: T;
  provenance: Provenance;
  receiveWallMs: number;
  /** Gateway monotonic clock at receipt (commands-in/persistence.ts keeps it across a restart within one boot). */
  receiveMonoNs: bigint;
}

/** The inputs held, for commands-in/persistence.ts. */
export interface ManualSnapshot {
  consciousness?: Entry<Acvpu>;
  onOxygen?: Entry<boolean>;
  spo2Scale?: Entry<1 | 2>;
}

export interface ManualMaxAgeMs {
  consciousness: number;
  onOxygen: number;
  spo2Scale: number;
}

export class ManualObservations {
  private consciousness: Entry<Acvpu> | null = null;
  private onOxygen: Entry<boolean> | null = null;
  private scale: Entry<1 | 2> | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly maxAgeMs: ManualMaxAgeMs,
  ) {}

  /** Records what a command gave; returns the observations to publish. */
  enter(values: { consciousness?: Acvpu; onOxygen?: boolean; spo2Scale?: 1 | 2 }, provenance: Provenance): ObservationMsg[] {
    const stamp = { provenance, receiveWallMs: this.clock.wallMs(), receiveMonoNs: this.clock.monoNs() };
    const entered: ManualParameter[] = [];
    if (values.consciousness !== undefined) {
      this.consciousness = { value: values.consciousness, ...stamp };
      entered.push('consciousness');
    }
    if (values.onOxygen !== undefined) {
      this.onOxygen = { value: values.onOxygen, ...stamp };
      entered.push('onOxygen');
    }
    if (values.spo2Scale !== undefined) {
      this.scale = { value: values.spo2Scale, ...stamp };
      entered.push('spo2Scale');
    }
    return this.messages(entered);
  }

  /** What is held now (to be saved after an accepted command). */
  snapshot(): ManualSnapshot {
    return {
      ...(this.consciousness ? { consciousness: this.consciousness } : {}),
      ...(this.onOxygen ? { onOxygen: this.onOxygen } : {}),
      ...(this.scale ? { spo2Scale: this.scale } : {}),
    };
  }

  /**
   * Takes back what an earlier run of the agent held, at start-up. The receive times must be
   * on this clock (the same boot's monotonic clock): an input is taken only while within its
   * maximum age, and keeps its age. Returns the observations to publish again.
   */
  restore(saved: ManualSnapshot): ObservationMsg[] {
    const now = this.clock.monoNs();
    const fits = <T>(e: Entry<T> | undefined, maxAgeMs: number): e is Entry<T> => e !== undefined && e.receiveMonoNs <= now && this.current(e, maxAgeMs) !== null;
    const restored: ManualParameter[] = [];
    if (fits(saved.consciousness, this.maxAgeMs.consciousness)) {
      this.consciousness = saved.consciousness;
      restored.push('consciousness');
    }
    if (fits(saved.onOxygen, this.maxAgeMs.onOxygen)) {
      this.onOxygen = saved.onOxygen;
      restored.push('onOxygen');
    }
    if (fits(saved.spo2Scale, this.maxAgeMs.spo2Scale)) {
      this.scale = saved.spo2Scale;
      restored.push('spo2Scale');
    }
    return this.messages(restored);
  }

  /** The observations of the given inputs as held now. */
  private messages(parameters: readonly ManualParameter[]): ObservationMsg[] {
    const out: ObservationMsg[] = [];
    for (const p of parameters) {
      if (p === 'consciousness' && this.consciousness) out.push(this.toMsg(p, this.consciousness, 0, this.consciousness.value, this.maxAgeMs.consciousness));
      if (p === 'onOxygen' && this.onOxygen) {
        const on = this.onOxygen.value;
        out.push(this.toMsg(p, this.onOxygen, on ? 1 : 0, on ? 'supplemental' : 'air', this.maxAgeMs.onOxygen));
      }
      if (p === 'spo2Scale' && this.scale) out.push(this.toMsg(p, this.scale, this.scale.value, String(this.scale.value), this.maxAgeMs.spo2Scale));
    }
    return out;
  }

  /** The current inputs for the NEWS2 stage (expired ones left out). */
  inputs(): ManualInputs {
    const out: ManualInputs = {};
    const c = this.current(this.consciousness, this.maxAgeMs.consciousness);
    if (c) out.consciousness = { value: c.value, wallMs: c.receiveWallMs, enteredBy: c.provenance.enteredBy, ageMs: this.ageMs(c) };
    const o = this.current(this.onOxygen, this.maxAgeMs.onOxygen);
    if (o) out.onOxygen = { value: o.value, wallMs: o.receiveWallMs, enteredBy: o.provenance.enteredBy, ageMs: this.ageMs(o) };
    return out;
  }

  /** The SpO2 scale set at the station, while current; undefined: use the configured one. */
  spo2Scale(): 1 | 2 | undefined {
    return this.current(this.scale, this.maxAgeMs.spo2Scale)?.value;
  }

  /** Drops inputs past their maximum age; returns which (to withdraw them and re-score). */
  expire(): ManualParameter[] {
    const out: ManualParameter[] = [];
    if (this.consciousness && !this.current(this.consciousness, this.maxAgeMs.consciousness)) {
      this.consciousness = null;
      out.push('consciousness');
    }
    if (this.onOxygen && !this.current(this.onOxygen, this.maxAgeMs.onOxygen)) {
      this.onOxygen = null;
      out.push('onOxygen');
    }
    if (this.scale && !this.current(this.scale, this.maxAgeMs.spo2Scale)) {
      this.scale = null;
      out.push('spo2Scale');
    }
    return out;
  }

  /**
   * The "withdrawn" observation published when a manual input expires, or when one an
   * earlier run held is not taken back at start-up (the station must stop showing it).
   */
  withdrawnMsg(parameter: ManualParameter, reason: 'max-age-exceeded' | 'gateway-rebooted' | 'state-unreadable' = 'max-age-exceeded'): ObservationMsg {
    const maxAgeMs = parameter === 'consciousness' ? this.maxAgeMs.consciousness : parameter === 'onOxygen' ? this.maxAgeMs.onOxygen : this.maxAgeMs.spo2Scale;
    return {
      ...this.base(parameter, maxAgeMs),
      value: 0,
      hasValue: false,
      status: 'RESULT_STATUS_UNAVAILABLE',
      quality: ['QUALITY_FLAG_STALE'],
      unavailableReason: reason,
      deviceTimeMs: 0,
      receiveWallMs: this.clock.wallMs(),
      receiveMonoNs: this.clock.monoNs().toString(),
    };
  }

  private current<T>(e: Entry<T> | null, maxAgeMs: number): Entry<T> | null {
    return e && this.ageMs(e) <= maxAgeMs ? e : null;
  }

  private ageMs(e: Entry<unknown>): number {
    return elapsedMs(e.receiveMonoNs, this.clock.monoNs());
  }

  private base(parameter: ManualParameter, maxAgeMs: number): Omit<ObservationMsg, 'value' | 'hasValue' | 'status' | 'quality' | 'unavailableReason' | 'deviceTimeMs' | 'receiveWallMs' | 'receiveMonoNs'> {
    return {
      parameter,
      // Nominal values: no UCUM unit. No LOINC code is assigned here on purpose (a wrong
      // code is worse than none); the parameter code names them.
      unitUcum: '',
      loinc: '',
      source: { driver: 'manual', interfaceId: 'station', serialNumber: '', port: '' },
      deviceTimeText: '',
      maxAgeMs,
    };
  }

  private toMsg<T>(parameter: ManualParameter, e: Entry<T>, value: number, code: string, maxAgeMs: number): ObservationMsg {
    return {
      ...this.base(parameter, maxAgeMs),
      value,
      hasValue: true,
      valueCode: code,
      status: 'RESULT_STATUS_FINAL',
      quality: [],
      // The station's clock when the nurse entered it stands in for a device time.
      deviceTimeMs: e.provenance.enteredWallMs,
      receiveWallMs: e.receiveWallMs,
      receiveMonoNs: e.receiveMonoNs.toString(),
      unavailableReason: '',
      manual: {
        enteredBy: e.provenance.enteredBy,
        commandId: e.provenance.commandId,
        stationId: e.provenance.stationId,
        enteredWallMs: e.provenance.enteredWallMs,
      },
    };
  }
}
