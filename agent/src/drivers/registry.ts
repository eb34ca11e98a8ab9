/**
 * The device drivers by name: the one place a new driver is registered (README, "Adding a
 * device"). The config's `driver` field selects one per interface (config.ts).
 */
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { DeviceDriver } from './driver';
import { Hl7Pcd01Driver } from './hl7-pcd01/driver';
import { MasimoAsciiDriver } from './masimo-ascii/driver';
import { VigilPatchDriver } from './vigil-patch/driver';

export function createDriver(itf: Config['interfaces'][number], patient: Config['patient'], clock: Clock, logger: Logger): DeviceDriver {
  switch (itf.driver) {
    case 'masimo-ascii':
      return new MasimoAsciiDriver(itf, clock, logger);
    case 'hl7-pcd01':
      return new Hl7Pcd01Driver(itf, patient, clock, logger);
    case 'vigil-patch':
      return new VigilPatchDriver(itf, clock, logger);
  }
}
