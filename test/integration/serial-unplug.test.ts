/**
 * An unplug must always be seen: the serial boundary (agent/src/io/serial.ts) with its
 * EOF-aware binding against hw-sim's real pseudo-terminal, hung up mid-stream with no quiet
 * gap (--unplug-quiet-ms 0), the race in which serialport's stock binding misses the hang-up.
 */
import t from 'tap';
import { systemClock } from '../../agent/src/clock';
import { SerialLinePort } from '../../agent/src/io/serial';
import { startHwSim } from '../support/processes';

t.test('REQ-SERIAL-003 HAZ-003 an unplug mid-stream always closes the port (10 of 10)', async (t) => {
  for (let run = 0; run < 10; run++) {
    const sim = await startHwSim(['masimo-ascii', '--period-ms', '20', '--unplug-quiet-ms', '0', '--seed', String(run + 1)]);
    t.teardown(() => sim.stop('SIGKILL'));
    const port = new SerialLinePort({ path: sim.path, baudRate: 9600, delimiter: Buffer.from('\r\n'), maxFrameBytes: 256, clock: systemClock });
    let frames = 0;
    port.on('frame', () => (frames += 1));
    const closed = new Promise<string>((resolve) => port.once('close', resolve));
    await port.open();
    await new Promise((r) => setTimeout(r, 150));
    await sim.stop('SIGTERM');
    const why = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('timeout'), 3000))]);
    t.equal(why, 'disconnected', `run ${run + 1}: closed as a disconnect after ${frames} frames`);
    await port.close();
  }
});
