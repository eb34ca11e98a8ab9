/// <reference lib="dom" />
/**
 * The ward board in a real browser (docs/interfaces/station-web.md, "The page"; issue 16): Debian's
 * Chromium driven headless by puppeteer-core, against the real `vigil station serve` over HTTPS, a
 * real Mosquitto with mutual TLS, and real agents reading hw-sim's pulse oximeter on real ptys
 * (test/support/ward-board.ts). Times are measured on the machine's one wall clock: hw-sim stamps
 * each frame it writes, the page stamps each change of its DOM (a MutationObserver), the test
 * stamps each fault it makes. Nothing sleeps blindly: every wait is for a condition, with a deadline.
 *
 * Screenshots of the board and of a bed page go to build/test-artifacts/; `make evidence` copies the
 * board's to docs/station.png.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from '../support/browser';
import { launchBrowser, recordResponses } from '../support/browser';
import { until } from '../support/observer';
import { ROOT, startHwSim } from '../support/processes';
import type { BedSpec } from '../support/ward-board';
import { NURSE, openBoard, signIn, startWard, tileOf, VISITOR } from '../support/ward-board';

const ARTIFACTS = join(ROOT, 'build', 'test-artifacts');
const BED12 = 'site1/ward7/bed12';
const BED13 = 'site1/ward7/bed13';
/** The bound: a value on the page within 2 s of the device sending it. */
const VALUE_SHOWN_WITHIN_MS = 2000;

const stable = (bedId: string, gatewayId: string, seed: number): BedSpec => ({
  bedId, gatewayId, simArgs: ['--scenario', 'stable', '--seed', String(seed), '--period-ms', '250'],
});
const desaturating = (bedId: string, gatewayId: string): BedSpec => ({
  bedId, gatewayId, simArgs: ['--scenario', 'desaturation', '--seed', '7', '--period-ms', '250'],
});

let browserStarted: Promise<Browser> | undefined;
function browser(): Promise<Browser> {
  browserStarted ??= launchBrowser();
  return browserStarted;
}
t.teardown(async () => {
  if (browserStarted) await (await browserStarted).close();
});

/** Waits until `fn` (run in the page) returns a truthy value; returns it. */
async function waitIn<T>(page: Page, what: string, fn: (...args: never[]) => T, timeoutMs: number, ...args: unknown[]): Promise<T> {
  try {
    const handle = await page.waitForFunction(fn as unknown as string, { timeout: timeoutMs, polling: 50 }, ...args);
    return (await handle.jsonValue()) as T;
  } catch (err) {
    throw new Error(`timed out after ${timeoutMs} ms waiting in the page for ${what}: ${(err as Error).message}`);
  }
}

/** Records in the page, with Date.now(), each change of a selector's text (null: absent). */
async function recordText(page: Page, name: string, selector: string): Promise<void> {
  await page.evaluate(
    (name, selector) => {
      const w = window as unknown as Record<string, unknown>;
      const changes: Array<[number, string | null]> = [];
      w[name] = changes;
      let last: string | null | undefined;
      const record = (): void => {
        const text = document.querySelector(selector)?.textContent ?? null;
        if (text !== last) {
          last = text;
          changes.push([Date.now(), text]);
        }
      };
      record();
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    },
    name,
    selector,
  );
}

/** When (Date.now() in the page) `selector` first matched, watched from now on. */
async function watchAppearance(page: Page, name: string, selector: string): Promise<void> {
  await page.evaluate(
    (name, selector) => {
      const w = window as unknown as Record<string, unknown>;
      w[name] = null;
      const check = (): void => {
        if (w[name] === null && document.querySelector(selector)) w[name] = Date.now();
      };
      check();
      new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    },
    name,
    selector,
  );
}

async function appearedAt(page: Page, name: string, what: string, timeoutMs = 30_000): Promise<number> {
  return waitIn(page, what, (name: string) => (window as unknown as Record<string, number | null>)[name], timeoutMs, name) as Promise<number>;
}

/**
 * Clicks `selector` as a user would (puppeteer's mouse click). A tile's part is rebuilt when what it
 * shows changes (a second alarm raised while the first is clicked): a button found just before is
 * then detached, as a nurse's pointer would be over the new one; the click is made again on it.
 */
async function clickFresh(page: Page, selector: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await page.click(selector);
      return;
    } catch (err) {
      if (attempt >= 5 || !/detached|not clickable|No element found/i.test((err as Error).message)) throw err;
      await page.waitForSelector(selector);
    }
  }
}

const valueSel = (bed: string, parameter: string, current: boolean): string =>
  `${tileOf(bed)} [data-testid=value][data-parameter=${parameter}][data-current=${current}]`;

t.test('REQ-WEB-020 a value reaches the page within 2 s of the device sending it, in its display unit, with its source and age', async (t) => {
  const ward = await startWard(t, [desaturating('bed12', 'gw-a')]);
  const page = await openBoard(t, await browser(), ward.url);
  await signIn(page);
  t.equal(await page.$eval('[data-testid=user]', (e) => e.textContent), NURSE.displayName, 'the signed-in user is named');
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  await recordText(page, '__spo2', `${valueSel(BED12, 'spo2', true)} [data-testid=value-number]`);
  const sim = ward.beds[0]!.sim;
  // The desaturation scenario moves SpO2 every few frames: wait for a dozen changes on the page.
  await waitIn(page, '13 values of SpO2 shown', () => (window as unknown as { __spo2: Array<[number, string | null]> }).__spo2.filter(([, text]) => text !== null).length >= 13, 60_000);
  const changes = await page.evaluate(() => (window as unknown as { __spo2: Array<[number, string | null]> }).__spo2);
  const frames = sim.frames.filter((f) => f.dropped !== true && typeof f.spo2Percent === 'number') as Array<{ sentWallMs: number; spo2Percent: number }>;
  const latencies: number[] = [];
  for (const [shownAtMs, text] of changes.slice(1)) {
    if (text === null) continue;
    const value = Number(text);
    // The frame that brought this value: the last frame before it was shown that changed SpO2 to it.
    let i = frames.length - 1;
    while (i >= 0 && !(frames[i]!.sentWallMs <= shownAtMs && frames[i]!.spo2Percent === value && (i === 0 || frames[i - 1]!.spo2Percent !== value))) i -= 1;
    t.ok(i >= 0, `SpO2 ${value} shown at ${shownAtMs} was sent by the device before`);
    if (i >= 0) latencies.push(shownAtMs - frames[i]!.sentWallMs);
  }
  const worst = Math.max(...latencies);
  t.ok(latencies.length >= 12, `${latencies.length} changes measured`);
  t.ok(worst <= VALUE_SHOWN_WITHIN_MS, `every value shown within ${VALUE_SHOWN_WITHIN_MS} ms of the device sending it (worst ${worst} ms, median ${latencies.sort((a, b) => a - b)[latencies.length >> 1]} ms)`);
  const shown = await page.$eval(valueSel(BED12, 'spo2', true), (e) => ({
    unit: e.querySelector('.value-unit')?.textContent,
    device: e.querySelector('[data-testid=value-device]')?.textContent,
    age: e.querySelector('[data-testid=age]')?.textContent,
  }));
  t.equal(shown.unit, '%', 'SpO2 in %');
  t.match(shown.device, /spo2 · masimo-ascii/, 'the source device is named');
  t.match(shown.age, /^age \d+ s$/, 'with its age');
  const pulseUnit = await page.$eval(`${valueSel(BED12, 'pulseRate', true)} .value-unit`, (e) => e.textContent);
  t.equal(pulseUnit, '/min', 'pulse in /min');
  const body = await page.$eval('body', (e) => e.textContent ?? '');
  t.notMatch(body, /mm\[Hg\]|\bCel\b|\{/, 'no UCUM code on the page');
  const news2 = await page.$eval(`${tileOf(BED12)} [data-testid=news2]`, (e) => ({ risk: e.getAttribute('data-risk'), text: e.textContent }));
  t.ok(news2.risk && news2.risk !== 'none', `NEWS2 with its risk band (${news2.risk})`);
  t.match(news2.text, /missing: RR, air\/O₂, systolic BP, ACVPU, temp/, 'the inputs missing from an oximeter-only score are named');
});

t.test('REQ-WEB-021 HAZ-003 an unplugged device: its value turns unavailable and its technical alarm shows within the quiet time; the bed sorts first', async (t) => {
  const ward = await startWard(t, [stable('bed12', 'gw-a', 3), stable('bed13', 'gw-b', 4)]);
  const page = await openBoard(t, await browser(), ward.url);
  await signIn(page);
  await page.waitForSelector(valueSel(BED13, 'spo2', true));
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  const bed13 = ward.beds[1]!;
  await watchAppearance(page, '__unavailable', valueSel(BED13, 'spo2', false));
  const alarmSel = `${tileOf(BED13)} [data-testid=alarms-technical] [data-testid=alarm][data-kind=technical][data-alarm-id^="spo2.link-"]`;
  await watchAppearance(page, '__alarm', alarmSel);
  const unpluggedAtMs = Date.now();
  await bed13.sim.stop('SIGKILL');
  const unavailableAtMs = await appearedAt(page, '__unavailable', 'SpO2 not current');
  const alarmAtMs = await appearedAt(page, '__alarm', 'the link alarm');
  const bound = bed13.quietTimeMs + VALUE_SHOWN_WITHIN_MS;
  t.ok(unavailableAtMs - unpluggedAtMs <= bound, `SpO2 unavailable ${unavailableAtMs - unpluggedAtMs} ms after the unplug (quiet time ${bed13.quietTimeMs} ms + ${VALUE_SHOWN_WITHIN_MS} ms)`);
  t.ok(alarmAtMs - unpluggedAtMs <= bound, `its technical alarm ${alarmAtMs - unpluggedAtMs} ms after the unplug`);
  const value = await page.$eval(valueSel(BED13, 'spo2', false), (e) => ({
    number: e.querySelector('[data-testid=value-number]')?.textContent,
    reason: e.querySelector('[data-testid=value-reason]')?.textContent,
    age: e.querySelector('[data-testid=age]')?.textContent,
  }));
  t.equal(value.number, '--', 'no number drawn as current');
  t.match(value.reason, /link-(lost|stale)|data stopped/, `the reason is written (${value.reason})`);
  t.match(value.age, /^age /, 'with its age');
  const alarm = await page.$eval(alarmSel, (e) => ({
    priority: e.getAttribute('data-priority'),
    text: e.querySelector('.alarm-priority')?.textContent,
    period: getComputedStyle(e, '::after').animationDuration, // the darkening layer that flashes (board.css)
    inPhysiological: e.closest('[data-testid=alarms-physiological]') !== null,
  }));
  t.equal(alarm.priority, 'medium', 'a medium-priority technical alarm');
  t.equal(alarm.text, 'MEDIUM', 'its priority written, the cue besides colour');
  t.equal(alarm.period, '2s', 'medium flashes at 0.5 Hz (IEC 60601-1-8 table 2)');
  t.notOk(alarm.inPhysiological, 'listed with the technical alarms, apart from the physiological ones');
  const order = await page.$$eval('[data-testid=bed-tile]', (tiles) => tiles.map((e) => e.getAttribute('data-bed')));
  t.same(order, [BED13, BED12], 'the bed with an active alarm is sorted first');
  t.equal(await page.$eval(valueSel(BED12, 'spo2', true), (e) => e.getAttribute('data-current')), 'true', 'the other bed stays current');
});

t.test('REQ-WEB-022 HAZ-012 a killed agent shows its gateway offline and none of its values current', async (t) => {
  const ward = await startWard(t, [stable('bed12', 'gw-a', 3)]);
  const page = await openBoard(t, await browser(), ward.url);
  await signIn(page);
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  await watchAppearance(page, '__offline', `${tileOf(BED12)} [data-testid=gateway][data-state=offline]`);
  const killedAtMs = Date.now();
  await ward.beds[0]!.agent.stop('SIGKILL');
  const offlineAtMs = await appearedAt(page, '__offline', 'the gateway offline');
  t.ok(offlineAtMs - killedAtMs <= VALUE_SHOWN_WITHIN_MS, `offline on the page ${offlineAtMs - killedAtMs} ms after the kill (the broker's last will)`);
  t.match(await page.$eval(`${tileOf(BED12)} [data-testid=gateway]`, (e) => e.textContent), /OFFLINE: last-will/, 'with the reason');
  const current = await page.$$eval(`${tileOf(BED12)} [data-testid=value]`, (els) => els.map((e) => e.getAttribute('data-current')));
  t.ok(current.length > 0 && current.every((c) => c === 'false'), 'no value of an offline gateway is current');
  t.ok(await page.$(`${tileOf(BED12)} [data-testid=alarm][data-alarm-id="station.gateway-offline"][data-kind=technical]`), 'shown as a technical alarm');
});

t.test('REQ-WEB-023 an acknowledgement clicked in the page reaches the agent and comes back with the user\'s name; a user without the bed cannot', async (t) => {
  const ward = await startWard(t, [stable('bed12', 'gw-a', 3)]);
  const page = await openBoard(t, await browser(), ward.url);
  await signIn(page);
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  await ward.beds[0]!.sim.stop('SIGKILL'); // the oximeter unplugged: a technical alarm to acknowledge
  const alarmSel = `${tileOf(BED12)} [data-testid=alarm][data-alarm-id^="spo2.link-"][data-state=active]`;
  const alarmId = await (await page.waitForSelector(alarmSel))!.evaluate((e) => e.getAttribute('data-alarm-id') as string);
  // A second browser, signed in as a user who may act on no bed: the button is not offered, and the station refuses.
  const visitor = await openBoard(t, await browser(), ward.url);
  await signIn(visitor, VISITOR);
  const visitorAck = await visitor.waitForSelector(`${tileOf(BED12)} [data-alarm-id="${alarmId}"] [data-testid=ack]`);
  t.ok(await visitorAck!.evaluate((b) => (b as HTMLButtonElement).disabled), 'the button is disabled for a user without the bed');
  const forced = await visitor.evaluate(async (bed, alarmId) => {
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
    const r = await fetch('/api/command', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken }, body: JSON.stringify({ bed, action: { kind: 'ack', alarmId } }) });
    return { status: r.status, body: (await r.json()) as { error: string } };
  }, BED12, alarmId);
  t.same(forced, { status: 403, body: { error: 'bed-not-permitted' } }, 'a forced request is refused: bed-not-permitted');
  await clickFresh(page, `${alarmSel} [data-testid=ack]`);
  const acked = await until('the agent to acknowledge', () =>
    ward.sub.got.find((r) => r.env.alarm?.alarmId === alarmId && r.env.alarm.state === 'ALARM_STATE_ACKNOWLEDGED')?.env.alarm);
  t.equal(acked.acknowledgedBy, NURSE.name, 'the gateway acknowledged it as the signed-in user');
  t.notOk(ward.sub.got.some((r) => r.env.alarm?.alarmId === alarmId && r.env.alarm.acknowledgedBy === VISITOR.name), 'never as the refused user');
  const by = await page.waitForSelector(`${tileOf(BED12)} [data-alarm-id="${alarmId}"][data-state=acknowledged] [data-testid=alarm-acked-by]`);
  t.equal(await by!.evaluate((e) => e.textContent), NURSE.name, 'the page shows who acknowledged it');
  const toast = await page.waitForSelector('[data-testid=command-status]:not([hidden])');
  t.match(await toast!.evaluate((e) => e.textContent), /accepted by the gateway/, 'the answer of the gateway is shown');
  t.match(ward.stationLog.join('\n'), /"event":"web-command".*"user":"nurse-a"/, 'the station logged the command with the user\'s name');
});

t.test('REQ-WEB-024 a signed-out browser gets no patient data: not in the DOM, not in any response', async (t) => {
  const ward = await startWard(t, [stable('bed12', 'gw-a', 3)]);
  await until('the station to have the bed', () => ward.sub.got.some((r) => r.env.observation?.hasValue));
  const context = await (await browser()).createBrowserContext();
  t.teardown(() => context.close().catch(() => undefined));
  const page = await context.newPage();
  const responses = recordResponses(page);
  await page.goto(ward.url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#login-name', { visible: true });
  const probes = await page.evaluate(async (bed) => {
    const status = async (path: string): Promise<[number, string]> => {
      const r = await fetch(path);
      return [r.status, await r.text()];
    };
    return {
      session: await status('/api/session'),
      events: await status('/api/events'),
      trends: await status(`/api/trends?bed=${encodeURIComponent(bed)}`),
    };
  }, BED12);
  t.equal(probes.session[0], 401, '/api/session: 401');
  t.equal(probes.events[0], 401, '/api/events: 401');
  t.equal(probes.trends[0], 401, '/api/trends: 401');
  // A wrong password: a clear answer, still nothing.
  await page.type('#login-name', NURSE.name);
  await page.type('#login-password', 'not the password');
  await page.click('#login-submit');
  const error = await page.waitForSelector('[data-testid=login-error]:not([hidden])');
  t.match(await error!.evaluate((e) => e.textContent), /Wrong user name or password/, 'a wrong password is answered');
  const bodies = await Promise.all(responses.map(async (r) => ({ url: r.url, status: r.status, body: await r.body })));
  t.ok(bodies.length >= 4, `${bodies.length} responses seen`);
  const leaking = bodies.filter((r) => /site1\/ward7|gw-a|"values"|"alarms"/.test(r.body));
  t.same(leaking.map((r) => r.url), [], 'no response holds a bed, a gateway or a value');
  const dom = await page.evaluate(() => ({ tiles: document.querySelectorAll('[data-testid=bed-tile]').length, text: document.body.textContent ?? '' }));
  t.equal(dom.tiles, 0, 'no bed tile');
  t.notMatch(dom.text, /site1\/ward7|bed12/, 'no bed in the page');
  // Signed in, then out: everything goes with the session.
  await page.$$eval('#login-name, #login-password', (els) => els.forEach((e) => ((e as HTMLInputElement).value = '')));
  await signIn(page);
  await page.waitForSelector(tileOf(BED12));
  await page.click('[data-testid=logout]');
  await page.waitForSelector('#login-name', { visible: true });
  const after = await page.evaluate(async () => ({
    tiles: document.querySelectorAll('[data-testid=bed-tile]').length,
    text: document.body.textContent ?? '',
    user: document.querySelector('[data-testid=user]')?.textContent,
    events: (await fetch('/api/events')).status,
  }));
  t.equal(after.tiles, 0, 'signed out: no tile left');
  t.notMatch(after.text, /bed12/, 'no bed left in the page');
  t.equal(after.user, '', 'no user shown');
  t.equal(after.events, 401, 'the old cookie gets nothing');
});

t.test('REQ-WEB-024 a session that expires takes every datum off the page', async (t) => {
  const TTL_MS = 6000;
  const ward = await startWard(t, [stable('bed12', 'gw-a', 3)], { sessionTtlMs: TTL_MS });
  const page = await openBoard(t, await browser(), ward.url);
  const signedInAtMs = Date.now();
  await signIn(page);
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  const error = await page.waitForSelector('[data-testid=login-error]:not([hidden])', { timeout: TTL_MS + 10_000 });
  const expiredAtMs = Date.now();
  t.match(await error!.evaluate((e) => e.textContent), /session has expired/, 'the page says the session expired');
  t.ok(expiredAtMs - signedInAtMs >= TTL_MS - 1000, `not before its time (${expiredAtMs - signedInAtMs} ms after sign-in, TTL ${TTL_MS} ms)`);
  const after = await page.evaluate(async () => ({
    tiles: document.querySelectorAll('[data-testid=bed-tile]').length,
    text: document.body.textContent ?? '',
    session: (await fetch('/api/session')).status,
  }));
  t.equal(after.tiles, 0, 'no tile left');
  t.notMatch(after.text, /bed12/, 'no bed left in the page');
  t.equal(after.session, 401, 'the expired cookie gets nothing');
});

t.test('REQ-WEB-025 the station watched: a silent bed, the broker lost, the station lost: each shown as a technical alarm, a stale page greyed', async (t) => {
  const ward = await startWard(t, [stable('bed12', 'gw-a', 3)], { silentBedMs: 5000 });
  const page = await openBoard(t, await browser(), ward.url);
  await signIn(page);
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  // A bed whose agent hangs (SIGSTOP): no heartbeat, no will while its TCP connection lives.
  await watchAppearance(page, '__silent', `${tileOf(BED12)} [data-testid=gateway][data-state=silent]`);
  const agent = ward.beds[0]!.agent.process;
  const stoppedAtMs = Date.now();
  agent.kill('SIGSTOP');
  t.teardown(() => {
    agent.kill('SIGCONT');
  });
  const silentAtMs = await appearedAt(page, '__silent', 'the bed silent');
  t.ok(silentAtMs - stoppedAtMs <= 5000 + 1000 + 500, `silent on the page ${silentAtMs - stoppedAtMs} ms after the agent hung (--silent-bed-ms 5000 + 1 s, + 0.5 s for the browser)`);
  t.ok(await page.$(`${tileOf(BED12)} [data-testid=alarm][data-alarm-id="station.bed-silent"][data-kind=technical]`), 'a technical alarm of the station');
  agent.kill('SIGCONT');
  await page.waitForSelector(`${tileOf(BED12)} [data-testid=gateway][data-state=online]`);
  await page.waitForSelector(valueSel(BED12, 'spo2', true));

  // The station loses the broker.
  await watchAppearance(page, '__brokerLost', '[data-testid=station-link][data-state=broker-lost]');
  const brokerDownAtMs = Date.now();
  await ward.broker.pause('SIGKILL');
  const brokerLostAtMs = await appearedAt(page, '__brokerLost', 'broker-lost');
  t.ok(brokerLostAtMs - brokerDownAtMs <= 1000 + 500, `broker-lost on the page ${brokerLostAtMs - brokerDownAtMs} ms after the broker died (1 s, + 0.5 s for the browser)`);
  const greyed = await page.evaluate(() => ({
    body: document.body.dataset.link,
    filter: getComputedStyle(document.querySelector('.tiles') as Element).filter,
    linkText: document.querySelector('[data-testid=station-link]')?.textContent,
  }));
  t.equal(greyed.body, 'broker-lost');
  t.match(greyed.filter, /grayscale\(1\)/, 'every value greyed');
  t.match(greyed.linkText, /TECHNICAL ALARM: the station has lost the broker/, 'said as a technical alarm');
  await ward.broker.resume();
  await page.waitForSelector('[data-testid=station-link][data-state=live]', { timeout: 30_000 });
  t.pass('live again once the broker is back');

  // The browser loses the station.
  await watchAppearance(page, '__stationLost', '[data-testid=station-link][data-state=station-lost]');
  const stationDownAtMs = Date.now();
  ward.station.kill('SIGKILL');
  const stationLostAtMs = await appearedAt(page, '__stationLost', 'station-lost');
  t.ok(stationLostAtMs - stationDownAtMs <= 3000 + 500, `station-lost on the page ${stationLostAtMs - stationDownAtMs} ms after the station died (3 s, + 0.5 s)`);
  const stale = await page.evaluate(() => ({
    filter: getComputedStyle(document.querySelector('.tiles') as Element).filter,
    linkText: document.querySelector('[data-testid=station-link]')?.textContent,
  }));
  t.match(stale.filter, /grayscale\(1\)/, 'a stale page never looks live: greyed');
  t.match(stale.linkText, /TECHNICAL ALARM: no connection to the station/, 'and says so');
});

t.test('REQ-WEB-026 keyboard and layout: a bed page with 4-hour SVG trends, the alarm log and a manual observation recorded as the user, Escape back; no overflow on a tablet; screenshots', async (t) => {
  const ward = await startWard(t, [desaturating('bed12', 'gw-a'), stable('bed13', 'gw-b', 4)]);
  const page = await openBoard(t, await browser(), ward.url);
  await signIn(page);
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  await page.waitForSelector(valueSel(BED13, 'spo2', true));
  // Tab to the bed's link, Enter: the bed page.
  let focused = '';
  for (let i = 0; i < 40 && focused !== `open|${BED12}`; i += 1) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.focusKey ?? '');
  }
  t.equal(focused, `open|${BED12}`, 'the bed is reached with Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#bed:not([hidden])');
  t.equal(await page.evaluate(() => decodeURIComponent(location.hash)), `#bed=${BED12}`, 'Enter opens the bed page');
  // The station keeps a point per 5 s: wait for two in the SpO2 and NEWS2 plots.
  await waitIn(page, 'two points in the SpO2 and NEWS2 trends', () =>
    ['spo2', 'news2'].every((s) => Number(document.querySelector(`[data-testid=trend][data-series=${s}]`)?.getAttribute('data-points') ?? 0) >= 2), 30_000);
  const plots = await page.$$eval('[data-testid=trend]', (els) => els.map((e) => ({ series: e.getAttribute('data-series'), svg: e.querySelector('svg polyline, svg circle') !== null })));
  t.ok(plots.some((p) => p.series === 'news2' && p.svg), 'a NEWS2 plot drawn in SVG');
  t.ok(plots.some((p) => p.series === 'spo2' && p.svg), 'an SpO2 plot drawn in SVG');
  t.ok(await page.$('[data-testid=alarm-log]'), 'the alarm log');
  // A manual observation from the bed page, by keyboard: it reaches the gateway and comes back as the user's.
  await page.focus('#observe-consciousness');
  await page.select('#observe-consciousness', 'A');
  await page.select('#observe-oxygen', 'true');
  await page.focus('#observe-submit');
  await page.keyboard.press('Enter');
  const manual = await until('the score with the manual inputs', () =>
    ward.sub.got.find((r) => r.env.gatewayId === 'gw-a' && (r.env.score?.inputs ?? []).some((i) => i.interfaceId === 'manual' && i.field === 'consciousness'))?.env.score);
  t.same(
    (manual.inputs ?? []).filter((i) => i.interfaceId === 'manual').map((i) => [i.field, i.valueCode, i.enteredBy]).sort(),
    [['consciousness', 'A', NURSE.name], ['onOxygen', 'supplemental', NURSE.name]],
    'the gateway scores them as entered by the signed-in user',
  );
  const shownManual = await page.waitForSelector('[data-testid=bed-detail] [data-testid=value][data-parameter=consciousness][data-current=true]');
  t.match(await shownManual!.evaluate((e) => e.textContent), new RegExp(`A.*entered by ${NURSE.name}`), 'the page shows the observation with who entered it');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'station-bed.png'), fullPage: true });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#board:not([hidden])');
  t.equal(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.focusKey), `open|${BED12}`, 'Escape goes back to the board, the bed focused');
  await page.screenshot({ path: join(ARTIFACTS, 'station-board.png') });
  // A tablet, portrait: nothing wider than the screen.
  await page.setViewport({ width: 768, height: 1024 });
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  t.ok(widths.scroll <= widths.inner, `no horizontal scrolling on a tablet (${widths.scroll} <= ${widths.inner} px)`);
  await page.screenshot({ path: join(ARTIFACTS, 'station-board-tablet.png'), fullPage: true });
  await page.goto(`${ward.url}#bed=${encodeURIComponent(BED12)}`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('[data-testid=bed-detail]');
  await page.waitForSelector('[data-testid=trend]');
  const bedWidths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  t.ok(bedWidths.scroll <= bedWidths.inner, `nor on the bed page (${bedWidths.scroll} <= ${bedWidths.inner} px)`);
});

t.test('REQ-WEB-027 HAZ-011 another oximeter on the port: its values are held back; a device change confirmed in the page reaches the agent as the user and the values return', async (t) => {
  // The test names the port's link, so that a second oximeter can take the same port after the first is unplugged.
  const link = join(mkdtempSync(join(tmpdir(), 'vigil-web-swap-')), 'spo2');
  const ward = await startWard(t, [{ ...stable('bed12', 'gw-a', 3), simArgs: [...stable('bed12', 'gw-a', 3).simArgs, '--link', link] }]);
  const page = await openBoard(t, await browser(), ward.url);
  await signIn(page);
  await page.waitForSelector(valueSel(BED12, 'spo2', true));
  await ward.beds[0]!.sim.stop('SIGKILL');
  const other = await startHwSim(['masimo-ascii', '--scenario', 'stable', '--seed', '4', '--period-ms', '250', '--link', link, '--serial', '0000054321']);
  t.teardown(() => other.stop('SIGKILL'));
  const alarmSel = `${tileOf(BED12)} [data-testid=alarm][data-alarm-id="spo2.device-identity"][data-state=active]`;
  await page.waitForSelector(alarmSel, { timeout: 30_000 });
  const held = await page.$eval(`${tileOf(BED12)} [data-testid=value][data-parameter=spo2]`, (e) => e.getAttribute('data-current'));
  t.equal(held, 'false', 'the other device\'s values are not shown as current while held back');
  await clickFresh(page, `${alarmSel} [data-testid=confirm-device]`);
  const toast = await page.waitForSelector('[data-testid=command-status]:not([hidden])');
  t.match(await toast!.evaluate((e) => e.textContent), /accepted by the gateway/, 'the gateway accepted the confirmation');
  t.match(ward.stationLog.join('\n'), /"event":"web-command".*"user":"nurse-a"/, 'sent as the signed-in user');
  await until('the device-identity alarm cleared', () =>
    ward.sub.got.find((r) => r.env.alarm?.alarmId === 'spo2.device-identity' && r.env.alarm.state === 'ALARM_STATE_CLEARED'), 30_000);
  await page.waitForSelector(valueSel(BED12, 'spo2', true), { timeout: 30_000 });
  t.pass('the confirmed device\'s values are current again on the page');
});

t.test('REQ-WEB-029 HAZ-003 a tile off screen is drawn when it comes on screen: marked behind and greyed meanwhile, then current at once', async (t) => {
  const ward = await startWard(t, [stable('bed12', 'gw-a', 3), stable('bed13', 'gw-b', 5)]);
  // A phone-sized screen: bed12's tile fills it, bed13's (sorted after it by name) is below.
  const page = await openBoard(t, await browser(), ward.url, { width: 420, height: 500 });
  await signIn(page);
  await page.waitForSelector(valueSel(BED13, 'pulseRate', true));
  const onScreen = await page.$eval(tileOf(BED13), (e) => e.getBoundingClientRect().top < innerHeight);
  t.notOk(onScreen, 'bed13 is below the screen');
  await waitIn(page, 'bed13 marked behind', (sel: string) => document.querySelector(sel)?.classList.contains('tile-behind'), 15_000, tileOf(BED13));
  const greyed = await page.$eval(`${tileOf(BED13)} .values`, (e) => getComputedStyle(e).opacity);
  t.equal(greyed, '0.5', 'its values greyed while they are not drawn: nothing on it looks current');
  t.equal(await page.$eval(tileOf(BED12), (e) => e.classList.contains('tile-behind')), false, 'the tile on screen is drawn as news comes');
  await page.$eval(tileOf(BED13), (e) => e.scrollIntoView());
  await waitIn(page, 'bed13 drawn once on screen', (sel: string) => !document.querySelector(sel)?.classList.contains('tile-behind'), 2000, tileOf(BED13));
  const pulse = await page.$eval(valueSel(BED13, 'pulseRate', true), (e) => ({ age: e.querySelector('[data-testid=age]')?.textContent ?? '', opacity: getComputedStyle(e.closest('.values') as Element).opacity }));
  t.match(pulse.age, /^age [0-2] s$/, `on screen, its pulse is the latest: ${pulse.age}`);
  t.equal(pulse.opacity, '1', 'and no longer greyed');
});
