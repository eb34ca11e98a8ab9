/*
 * The ward board in the browser (docs/interfaces/station-web.md, "The page").
 *
 * Plain ES2022, no framework, no build step, nothing loaded from outside the station. Values come
 * from bedside devices: they are only ever put in the page with textContent and DOM building,
 * never as HTML.
 *
 * Rules that matter (docs/interfaces/station.md): a value the station does not call current is
 * never drawn as current; a page that no longer hears from the station (no `ward` event for 3 s)
 * or whose station lost the broker says so as a technical alarm and greys every value, so that a
 * stale page never looks live. Ages come from the station and keep growing here between events.
 *
 * Speed (docs/benchmarks.md, the ward board): a partial `ward` event holds only what changed; it is
 * merged into the beds the page holds and only the parts it names are redrawn, a value whose look
 * did not change by writing its new number in place.
 */
'use strict';

(() => {
  /** The browser has lost the station after this long without a `ward` event (the contract's 3 s). */
  const STATION_LOST_AFTER_MS = 3000;
  /** Ages are redrawn this often (the contract: every second). */
  const AGE_TICK_MS = 1000;
  /** The station link is checked this often, so that a lost station shows within 3 s + 250 ms at most. */
  const LINK_TICK_MS = 250;
  /** Drawn within this of an event even when the browser gives the page no animation frame (a background tab). */
  const DRAW_LATEST_MS = 250;
  /** A new EventSource after an error that the browser does not retry by itself. */
  const RECONNECT_MS = 2000;
  /** Trends on the bed page are fetched again this often (the station keeps one point per 5 s). */
  const TREND_REFRESH_MS = 5000;
  /** Silence from the page: two minutes (IEC 60601-1-8 lets the operator pause alarm signals for a set time). */
  const SILENCE_SEC = 120;

  /** Display forms of the UCUM units the agent publishes (agent/src/model/parameters.ts). */
  const UNIT_DISPLAY = { '%': '%', '/min': '/min', 'mm[Hg]': 'mmHg', Cel: '°C', '[degF]': '°F', 'g/dL': 'g/dL', 'mL/dL': 'mL/dL', 1: '' };
  /** Labels a nurse reads, per parameter code (agent/src/model/parameters.ts labels). */
  const LABEL = {
    heartRate: 'HR', pulseRate: 'Pulse', spo2: 'SpO₂', respRate: 'RR', nibpSystolic: 'NIBP sys', nibpDiastolic: 'NIBP dia',
    nibpMean: 'NIBP mean', temperature: 'Temp', skinTemperature: 'Skin temp', perfusionIndex: 'PI', spCO: 'SpCO', spMet: 'SpMet',
    spHb: 'SpHb', spOC: 'SpOC', pvi: 'PVI', consciousness: 'ACVPU', onOxygen: 'O₂', spo2Scale: 'SpO₂ scale',
  };
  /** The order of values in a tile: the vitals of NEWS2 first (RCP NEWS2 chart order), then the rest by name. */
  const ORDER = ['respRate', 'spo2', 'spo2Scale', 'onOxygen', 'nibpSystolic', 'nibpDiastolic', 'nibpMean', 'heartRate', 'pulseRate',
    'consciousness', 'temperature', 'skinTemperature', 'perfusionIndex', 'pvi', 'spCO', 'spMet', 'spHb', 'spOC'];
  /** NEWS2 inputs as the score names them, for "missing: ...". */
  const NEWS2_FIELD = {
    respRatePerMin: 'RR', spo2Percent: 'SpO₂', onOxygen: 'air/O₂', systolicMmHg: 'systolic BP', pulseBpm: 'pulse',
    consciousness: 'ACVPU', tempCelsius: 'temp',
  };
  /** Coded values as a nurse reads them (manual observations: docs/interfaces/commands.md). */
  const CODE_DISPLAY = { onOxygen: { supplemental: 'O₂', air: 'Air' } };
  const PRIORITY_RANK = { high: 3, medium: 2, low: 1 };
  /** The words beside the colour (IEC 60601-1-8: a cue besides colour). */
  const PRIORITY_TEXT = { high: 'HIGH', medium: 'MEDIUM', low: 'LOW', info: 'INFO' };
  const RISK_TEXT = { low: 'low risk', 'low-medium': 'low-medium risk', medium: 'medium risk', high: 'high risk' };
  /** NEWS2 risk bands in order (RCP 2017): the board sorts by the band, not the total, so that tiles do not move at every point. */
  const RISK_RANK = { low: 1, 'low-medium': 2, medium: 3, high: 4 };

  const $ = (id) => document.getElementById(id);

  const state = {
    /** The session: {user, displayName, csrfToken, expiresAtMs, beds} or null when signed out. */
    session: null,
    events: null,
    reconnectTimer: 0,
    lostTimer: 0,
    /** performance.now() of the last `ward` event, and its `t` and `connected`. */
    lastWardAt: 0,
    ward: null,
    /** Every bed's view as merged from the events; ages as `bornAt` (performance.now() of age 0). */
    beds: new Map(),
    /** Per bed: {tile, parts, behind} (parts: patchTile's cache; behind: the change not drawn while off screen, undefined when none). */
    tiles: new Map(),
    order: [],
    /** Per bed: its rank on the board, "priority|risk" (the board is sorted again only when one moves). */
    ranks: new Map(),
    /** The tiles on screen (their ages grow every second) and the observer that keeps the set. */
    visible: new Set(),
    visibility: null,
    /** Changes merged and not drawn yet (drawn at the next frame), or null when none wait; `all`: the whole ward. */
    undrawn: null,
    drawFrame: 0,
    drawTimer: 0,
    /** Commands sent and not answered yet, by `bed|alarmId|kind`. */
    pending: new Set(),
    trendTimer: 0,
    toastTimer: 0,
    /** The bed page's panel: {bed, tile, parts, recent}. */
    detail: null,
  };

  // ---- small DOM helpers (textContent only) ------------------------------------------------

  /** An element with attributes (set as attributes, never as HTML) and children (nodes or text). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === 'text') node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    return node;
  }

  function seconds(ms) {
    // Whole seconds: an age that changed its text at every event would redraw a whole ward.
    if (ms < 60_000) return `${Math.max(0, Math.floor(ms / 1000))} s`;
    if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
    return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
  }

  /** HH:MM:SS local time of a wall time, or --:--:-- for one a Date cannot hold (a broken clock). */
  function clock(wallMs) {
    const d = new Date(wallMs);
    if (!Number.isFinite(wallMs) || Number.isNaN(d.getTime())) return '--:--:--';
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  /** UCUM to the form a nurse reads: annotations like {beats} dropped, mm[Hg] -> mmHg, Cel -> °C. */
  function displayUnit(ucum) {
    if (ucum === undefined || ucum === null) return '';
    if (Object.hasOwn(UNIT_DISPLAY, ucum)) return UNIT_DISPLAY[ucum];
    const plain = String(ucum).replace(/\{[^}]*\}/g, '').replace('mm[Hg]', 'mmHg').replace('Cel', '°C').replace(/\[|\]/g, '');
    return plain === '1' ? '' : plain;
  }

  function formatNumber(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return '--';
    return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(2)));
  }

  function label(parameter) {
    return LABEL[parameter] ?? parameter;
  }

  /** Whether the signed-in user may act on `bed` (`site/ward/*` patterns, docs/interfaces/station-web.md). */
  function mayActOn(bed) {
    const beds = state.session?.beds ?? [];
    return beds.some((pattern) => pattern === bed || (pattern.endsWith('/*') && bed.startsWith(pattern.slice(0, -1))));
  }

  // ---- time: ages grow between events --------------------------------------------------------

  /** Milliseconds since the last `ward` event arrived (0 before the first). */
  function sinceWard() {
    return state.lastWardAt === 0 ? 0 : performance.now() - state.lastWardAt;
  }

  /** Sets a node's text only when it changed (no DOM mutation, no layout, for an unchanged age). */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  /** An element showing an age that keeps growing from `bornAt` (performance.now() of age 0). */
  function ageNode(bornAt, prefix = '', suffix = ' ago') {
    const node = el('span', { class: 'age', 'data-testid': 'age' });
    node.dataset.prefix = prefix;
    node.dataset.suffix = suffix;
    setAge(node, bornAt);
    return node;
  }

  /** Points an age node at a new `bornAt` (kept on the node, not as an attribute) and writes its text when it changed. */
  function setAge(node, bornAt) {
    node.vigilBornAt = bornAt;
    setText(node, `${node.dataset.prefix ?? ''}${seconds(performance.now() - bornAt)}${node.dataset.suffix ?? ''}`);
  }

  /** The ages of one part of the page (a tile, the bed page), redrawn from their `bornAt`. */
  function tickAgesIn(root) {
    for (const node of root.getElementsByClassName('age')) if (typeof node.vigilBornAt === 'number') setAge(node, node.vigilBornAt);
  }

  /**
   * Ages grow every second on what can be seen: the tiles on screen (an IntersectionObserver keeps
   * the set), the bed page; a tile coming on screen has its ages redrawn at once (onVisibility).
   * 200 tiles of 15 ages each would otherwise be 3,000 texts a second for a screen that shows 20 tiles.
   */
  function tickAges() {
    for (const tile of state.visible) tickAgesIn(tile);
    if (!$('bed').hidden) tickAgesIn($('bed-now'));
    updateLink();
  }

  /**
   * A tile came on screen or went off it. One coming on screen is first brought up to date with
   * what it was not drawn with while off screen (drawWard), then its ages.
   */
  function onVisibility(entries) {
    const focusKey = document.activeElement?.dataset?.focusKey;
    for (const entry of entries) {
      if (!entry.isIntersecting) {
        state.visible.delete(entry.target);
        continue;
      }
      state.visible.add(entry.target);
      const tile = state.tiles.get(entry.target.dataset.bed);
      const bed = state.beds.get(entry.target.dataset.bed);
      if (tile && bed && tile.behind !== undefined) {
        patchTile(tile.tile, tile.parts, bed, false, tile.behind);
        tile.behind = undefined;
        tile.tile.classList.remove('tile-behind');
      }
      tickAgesIn(entry.target);
    }
    if (focusKey && document.activeElement?.dataset?.focusKey !== focusKey) {
      document.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
    }
  }

  /** Two changes of a bed as one: every part either named (null: every part). */
  function unionChange(before, change) {
    if (before === null || change === null) return null;
    return { ...before, ...change, values: [...(before.values ?? []), ...(change.values ?? [])] };
  }

  // ---- the station link ----------------------------------------------------------------------

  /** live, broker-lost (the station lost the broker) or station-lost (no `ward` event for 3 s). */
  function linkState() {
    if (state.ward === null || sinceWard() > STATION_LOST_AFTER_MS) return 'station-lost';
    return state.ward.connected ? 'live' : 'broker-lost';
  }

  function updateLink() {
    if (!state.session) return;
    const link = document.querySelector('[data-testid=station-link]');
    const now = linkState();
    const text =
      now === 'live'
        ? 'Live'
        : now === 'broker-lost'
          ? 'TECHNICAL ALARM: the station has lost the broker: no bed data arrives, values are not current'
          : `TECHNICAL ALARM: no connection to the station${state.lastWardAt ? ` for ${seconds(sinceWard())}` : ''}: this page is not live`;
    if (link.dataset.state !== now || now !== 'live') {
      link.dataset.state = now;
      link.textContent = text;
      link.className = now === 'live' ? 'link link-live' : 'link alarm-medium flash-medium';
    }
    // Only when it changes: the board's greying hangs on this attribute of <body>, and writing it restyles every tile.
    if (document.body.dataset.link !== now) document.body.dataset.link = now;
  }

  // ---- signing in and out --------------------------------------------------------------------

  async function api(path, options = {}) {
    const headers = { Accept: 'application/json', ...(options.headers ?? {}) };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.method === 'POST' && state.session) headers['X-CSRF-Token'] = state.session.csrfToken;
    const response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    let json = null;
    if (response.status !== 204) {
      try {
        json = await response.json();
      } catch {
        json = null;
      }
    }
    return { status: response.status, json };
  }

  function showLogin(message) {
    signedOut();
    $('login').hidden = false;
    const error = document.querySelector('[data-testid=login-error]');
    error.textContent = message ?? '';
    error.hidden = !message;
    $('login-name').focus();
  }

  /** Forgets the session and removes every patient datum from the page. */
  function signedOut() {
    state.session = null;
    if (state.events) state.events.close();
    state.events = null;
    clearTimeout(state.reconnectTimer);
    clearTimeout(state.lostTimer);
    clearInterval(state.trendTimer);
    state.ward = null;
    state.lastWardAt = 0;
    state.beds.clear();
    state.tiles.clear();
    state.ranks.clear();
    state.visibility?.disconnect();
    state.visibility = null;
    state.visible.clear();
    state.undrawn = null;
    cancelAnimationFrame(state.drawFrame);
    clearTimeout(state.drawTimer);
    state.order = [];
    state.pending.clear();
    state.detail = null;
    $('tiles').replaceChildren();
    $('bed-now').replaceChildren();
    $('trends').replaceChildren();
    $('alarm-log-body').replaceChildren();
    $('backfill-list').replaceChildren();
    $('bed-title').textContent = '';
    $('board').hidden = true;
    $('bed').hidden = true;
    document.querySelector('.who').hidden = true;
    document.querySelector('[data-testid=user]').textContent = '';
    const link = document.querySelector('[data-testid=station-link]');
    link.hidden = true;
    link.dataset.state = 'none';
    document.body.dataset.link = 'none';
  }

  function signedIn(session) {
    state.session = session;
    $('login').hidden = true;
    $('login-password').value = '';
    document.querySelector('.who').hidden = false;
    document.querySelector('[data-testid=user]').textContent = session.displayName || session.user;
    document.querySelector('[data-testid=station-link]').hidden = false;
    updateLink();
    connectEvents();
    route();
  }

  async function login(event) {
    event.preventDefault();
    const submit = $('login-submit');
    submit.disabled = true;
    try {
      const { status, json } = await api('/api/login', { method: 'POST', body: { name: $('login-name').value, password: $('login-password').value } });
      if (status === 200 && json) {
        // The bed list comes with the session (the login answer does not carry it).
        const session = await api('/api/session');
        signedIn(session.status === 200 && session.json ? session.json : { ...json, beds: [] });
      } else {
        showLogin(status === 401 ? 'Wrong user name or password.' : `Sign-in refused (${json?.error ?? status}).`);
      }
    } catch {
      showLogin('The station does not answer.');
    } finally {
      submit.disabled = false;
    }
  }

  async function logout() {
    try {
      await api('/api/logout', { method: 'POST' });
    } catch {
      /* signed out here whatever the station answers */
    }
    showLogin('Signed out.');
  }

  // ---- the event stream ----------------------------------------------------------------------

  function connectEvents() {
    if (state.events) state.events.close();
    const source = new EventSource('/api/events');
    state.events = source;
    source.addEventListener('ward', (event) => {
      if (state.events !== source) return;
      let ward;
      try {
        ward = JSON.parse(event.data);
      } catch {
        return;
      }
      const changes = mergeWard(ward, performance.now());
      state.ward = { t: ward.t, connected: ward.connected === true };
      state.lastWardAt = performance.now();
      // Checked again exactly when the 3 s run out, not only at the next tick.
      clearTimeout(state.lostTimer);
      state.lostTimer = setTimeout(updateLink, STATION_LOST_AFTER_MS + 1);
      updateLink();
      scheduleDraw(changes);
    });
    source.addEventListener('session-expired', () => {
      source.close();
      showLogin('Your session has expired: sign in again.');
    });
    source.addEventListener('error', () => {
      if (state.events !== source || source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // Closed for good (e.g. answered 401): ask whether the session still holds, then retry.
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = setTimeout(async () => {
        try {
          const { status } = await api('/api/session');
          if (status === 401) {
            showLogin('Your session has ended: sign in again.');
            return;
          }
        } catch {
          /* the station is unreachable: keep trying; the link shows station-lost meanwhile */
        }
        if (state.session) connectEvents();
      }, RECONNECT_MS);
    });
  }

  // ---- merging the events ------------------------------------------------------------------------

  /**
   * Draws what the events merged at the next frame: events that arrive together (a slow or busy
   * page) are drawn once. A page in a background tab gets no frames: then within DRAW_LATEST_MS.
   */
  function scheduleDraw(changes) {
    if (changes === null || state.undrawn === 'all') state.undrawn = 'all';
    else {
      state.undrawn ??= new Map();
      for (const [key, change] of changes) {
        // A bed changed twice before the frame: drawn from every part either change named.
        state.undrawn.set(key, state.undrawn.has(key) ? unionChange(state.undrawn.get(key), change) : change);
      }
    }
    if (state.drawFrame) return;
    const draw = () => {
      cancelAnimationFrame(state.drawFrame);
      clearTimeout(state.drawTimer);
      state.drawFrame = 0;
      const undrawn = state.undrawn;
      state.undrawn = null;
      if (undrawn !== null) drawWard(undrawn === 'all' ? null : undrawn);
    };
    state.drawFrame = requestAnimationFrame(draw);
    state.drawTimer = setTimeout(draw, DRAW_LATEST_MS);
  }

  /** Ages as the page keeps them: `bornAt`, the performance.now() when the age was 0. */
  function stampAges(bed, change, now) {
    if (typeof change.heartbeatAgeMs === 'number') bed.heartbeatBornAt = now - change.heartbeatAgeMs;
    if (typeof change.lastMessageAgeMs === 'number') bed.silentBornAt = now - change.lastMessageAgeMs;
    if (change.score) change.score.bornAt = now - (change.score.ageMs ?? 0);
    for (const v of change.values ?? []) v.bornAt = now - (v.ageMs ?? 0);
  }

  /**
   * Merges a `ward` event into the beds the page holds (docs/interfaces/station-web.md, GET
   * /api/events): a whole ward replaces them; a partial one replaces, per bed, only the parts it
   * holds (values by `parameter@interfaceId`, each value's fields over the one held). Returns, per bed drawn anew or changed, the change
   * (null: every part), or null when the whole ward is new.
   */
  function mergeWard(ward, now) {
    const beds = Array.isArray(ward.beds) ? ward.beds : [];
    if (!ward.partial) {
      state.beds = new Map();
      for (const bed of beds) {
        stampAges(bed, bed, now);
        state.beds.set(bed.bed, bed);
      }
      return null;
    }
    const changes = new Map();
    for (const change of beds) {
      stampAges(change, change, now);
      const held = state.beds.get(change.bed);
      if (!held) {
        state.beds.set(change.bed, change);
        changes.set(change.bed, null);
        continue;
      }
      if (typeof change.heartbeatAgeMs === 'number') held.heartbeatBornAt = change.heartbeatBornAt;
      if (typeof change.lastMessageAgeMs === 'number') held.silentBornAt = change.silentBornAt;
      for (const [key, value] of Object.entries(change)) {
        if (key === 'values') {
          const index = new Map((held.values ?? []).map((v, i) => [valueKey(v), i]));
          held.values ??= [];
          for (const v of value) {
            const i = index.get(valueKey(v));
            // A value that only changed its number and age carries only those: merged over the one held.
            if (i === undefined) held.values.push(v);
            else held.values[i] = { ...held.values[i], ...v };
          }
        } else if (key !== 'heartbeatBornAt' && key !== 'silentBornAt') {
          held[key] = value;
        }
      }
      if (changes.has(change.bed) === false) changes.set(change.bed, change);
    }
    return changes;
  }

  // ---- the board -------------------------------------------------------------------------------

  /** The alarms a bed shows: the gateway's (with the devices' it relays) and the station's own about the bed. */
  function bedAlarms(bed) {
    // Information signals (priority `info`) are listed too, below the alarms; they do not rank a bed.
    const alarms = (bed.alarms ?? []).filter((a) => a.state !== 'cleared');
    const own = [];
    if (bed.silent) {
      own.push({
        alarmId: 'station.bed-silent', priority: 'medium', kind: 'technical', origin: 'station', source: 'station', state: 'active',
        detail: `The station hears nothing from this bed${bed.lastMessageAgeMs != null ? '' : ''}`, acknowledgedBy: '', silencedUntilWallMs: 0,
        bornAt: bed.silentBornAt,
      });
    }
    if (bed.gateway === 'offline' || bed.gateway === 'lost') {
      own.push({
        alarmId: 'station.gateway-' + bed.gateway, priority: 'medium', kind: 'technical', origin: 'station', source: 'station', state: 'active',
        detail: bed.gateway === 'offline' ? `Gateway offline: ${bed.gatewayReason || 'no reason given'}` : `Gateway lost: ${bed.gatewayReason || 'heartbeats stopped'}`,
        acknowledgedBy: '', silencedUntilWallMs: 0,
      });
    }
    return [...own, ...alarms];
  }

  function highestPriority(bed) {
    return Math.max(0, ...bedAlarms(bed).map((a) => PRIORITY_RANK[a.priority] ?? 0));
  }

  /** A bed's NEWS2 risk band as a number (0: no score). */
  function riskRank(bed) {
    return RISK_RANK[bed.score?.riskLevel] ?? 0;
  }

  /**
   * Redraws the board: tiles sorted by their highest active alarm priority, then NEWS2 risk band,
   * then name. `changes`: per bed the change a partial event brought (null: every part of that bed);
   * null: every bed (a whole ward, or the page's own state such as a command pending).
   */
  function drawWard(changes = null) {
    updateLink();
    if (!state.session || !state.ward) return;
    const container = $('tiles');
    const focusKey = document.activeElement?.dataset?.focusKey;
    let reorder = changes === null || container.childElementCount !== state.beds.size;
    const draw = (bed, change) => {
      let entry = state.tiles.get(bed.bed);
      if (!entry) {
        entry = { tile: el('article', { class: 'tile', 'data-testid': 'bed-tile', 'data-bed': bed.bed }), parts: new Map() };
        state.tiles.set(bed.bed, entry);
        state.visibility ??= new IntersectionObserver(onVisibility);
        state.visibility.observe(entry.tile);
        reorder = true;
      }
      if (entry.parts.size > 0 && !state.visible.has(entry.tile)) {
        // Off screen: not drawn now, but when it comes on screen (onVisibility), before anything
        // else. Meanwhile it is marked behind (its values greyed): should a frame show it before it
        // is drawn, nothing on it looks current. 200 beds on a screen that shows 20 draw 20.
        entry.behind = entry.behind === undefined ? change : unionChange(entry.behind, change);
        if (!entry.tile.classList.contains('tile-behind')) entry.tile.classList.add('tile-behind');
      } else {
        patchTile(entry.tile, entry.parts, bed, false, entry.parts.size === 0 ? null : change);
      }
      const top = highestPriority(bed);
      const priority = ['none', 'low', 'medium', 'high'][top];
      if (entry.tile.dataset.priority !== priority) entry.tile.dataset.priority = priority;
      const rank = `${top}|${riskRank(bed)}`;
      if (state.ranks.get(bed.bed) !== rank) {
        state.ranks.set(bed.bed, rank);
        reorder = true;
      }
    };
    if (changes === null) {
      for (const bed of state.beds.values()) draw(bed, null);
      for (const [key, entry] of state.tiles) {
        if (!state.beds.has(key)) {
          state.visibility?.unobserve(entry.tile);
          state.visible.delete(entry.tile);
          entry.tile.remove();
          state.tiles.delete(key);
          state.ranks.delete(key);
        }
      }
    } else {
      for (const [key, change] of changes) {
        const bed = state.beds.get(key);
        if (bed) draw(bed, change);
      }
    }
    if (reorder) {
      // Each bed's rank computed once, not at every comparison of the sort.
      const ranked = [...state.beds.values()].map((bed) => ({ key: bed.bed, priority: highestPriority(bed), risk: riskRank(bed) }));
      ranked.sort((a, b) => b.priority - a.priority || b.risk - a.risk || a.key.localeCompare(b.key));
      const order = ranked.map((r) => r.key);
      if (order.join('\n') !== state.order.join('\n') || container.childElementCount !== order.length) {
        state.order = order;
        placeInOrder(container, order.map((key) => state.tiles.get(key).tile));
      }
    }
    $('board-empty').hidden = state.beds.size > 0;
    if (focusKey && document.activeElement?.dataset?.focusKey !== focusKey) {
      document.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
    }
    if (!$('bed').hidden) {
      const shown = $('bed').dataset.bed;
      if (changes === null || changes.has(shown)) drawBedNow(changes === null ? null : changes.get(shown));
    }
  }

  /**
   * Makes `tiles` the children of `container` in that order, moving only the tiles out of place:
   * the longest run of tiles already in order stays (a longest increasing subsequence of their
   * places), the others are inserted before their successor. One bed moving is one move, not 200
   * tiles laid out anew.
   */
  function placeInOrder(container, tiles) {
    const place = new Map([...container.children].map((tile, i) => [tile, i]));
    const stays = inOrder(tiles.map((tile) => place.get(tile) ?? -1));
    let next = null;
    for (let i = tiles.length - 1; i >= 0; i -= 1) {
      if (!stays.has(i)) container.insertBefore(tiles[i], next);
      next = tiles[i];
    }
    const wanted = new Set(tiles);
    for (const child of [...container.children]) if (!wanted.has(child)) child.remove();
  }

  /** The indices of a longest strictly increasing subsequence of `seq` (entries < 0 never in it): O(n log n). */
  function inOrder(seq) {
    const tails = []; // tails[k]: index in seq of the smallest tail of an increasing run of length k + 1
    const before = new Array(seq.length).fill(-1);
    for (let i = 0; i < seq.length; i += 1) {
      if (seq[i] < 0) continue;
      let lo = 0;
      let hi = tails.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seq[tails[mid]] < seq[i]) lo = mid + 1;
        else hi = mid;
      }
      if (lo > 0) before[i] = tails[lo - 1];
      tails[lo] = i;
    }
    const out = new Set();
    for (let i = tails.length > 0 ? tails[tails.length - 1] : -1; i >= 0; i = before[i]) out.add(i);
    return out;
  }

  /** The ages of a tile's parts that were not rebuilt, pointed at the new `bornAt`s. */
  function refreshAges(tile, bed, change) {
    // Values write their own ages (patchValue); the others come with their part.
    if (change !== null && !('score' in change) && !('heartbeatAgeMs' in change) && !('lastMessageAgeMs' in change)) return;
    for (const node of tile.querySelectorAll('.age[data-age-key]')) {
      const key = node.dataset.ageKey;
      let bornAt;
      if (key === 'score') bornAt = change && !('score' in change) ? undefined : bed.score?.bornAt;
      else if (key === 'heartbeat') bornAt = bed.heartbeatBornAt;
      else if (key === 'silent') bornAt = bed.silentBornAt;
      else continue; // values: written by patchValue
      if (typeof bornAt === 'number' && bornAt !== node.vigilBornAt) setAge(node, bornAt);
    }
  }

  const valueKey = (v) => `${v.parameter}@${v.interfaceId ?? v.source ?? ''}`;

  function keyedAge(key, bornAt, prefix, suffix) {
    const node = ageNode(typeof bornAt === 'number' ? bornAt : performance.now(), prefix, suffix);
    node.dataset.ageKey = key;
    return node;
  }

  /**
   * Brings a bed's tile (or the bed page's "now" panel, `large`) up to date: each part (head, NEWS2,
   * each value, alarms, history) is rebuilt only when what it shows changed, so that a ward of 200
   * beds redraws only what moved. `change`: the parts a partial event brought (null: look at every
   * part); a value whose look is unchanged gets its new number and age written in place.
   */
  function patchTile(tile, parts, bed, large, change = null) {
    const has = (key) => change === null || key in change;
    const gatewayState = bed.silent ? 'silent' : bed.gateway;
    const part = (key, sig, build) => {
      const cached = parts.get(key);
      if (cached && cached.sig === sig) return cached.node;
      const node = build();
      parts.set(key, { sig, node });
      return node;
    };
    const cachedNode = (key) => parts.get(key)?.node;
    const headChanged = has('gateway') || has('gatewayReason') || has('silent') || has('heartbeatAgeMs');
    const head = !headChanged && cachedNode('head') ? cachedNode('head') : part('head', JSON.stringify([gatewayState, bed.gatewayReason, bed.heartbeatAgeMs != null]), () =>
      el('header', { class: 'tile-head' },
        large
          ? el('span', { class: 'bed-name', text: bed.bed })
          : el('a', { class: 'bed-name', href: `#bed=${encodeURIComponent(bed.bed)}`, 'data-focus-key': `open|${bed.bed}`, 'aria-label': `Open bed ${bed.bed}`, text: bed.bed }),
        el('span', { class: `gateway gateway-${gatewayState}`, 'data-testid': 'gateway', 'data-state': gatewayState },
          gatewayText(bed),
          bed.heartbeatAgeMs != null && gatewayState !== 'online' ? keyedAge('heartbeat', bed.heartbeatBornAt, ' · status ', ' ago') : null)));
    const news2 = !has('score') && cachedNode('news2') ? cachedNode('news2') : part('news2', JSON.stringify(bed.score ? { ...bed.score, ageMs: undefined, bornAt: undefined } : null), () => news2Node(bed.score));
    const values = part('values', 'container', () => el('div', { class: 'values' }));
    if (has('values')) {
      const changedKeys = change === null ? null : new Set((change.values ?? []).map(valueKey));
      let rebuilt = false;
      for (const v of bed.values ?? []) {
        const key = `value|${valueKey(v)}`;
        if (changedKeys !== null && !changedKeys.has(valueKey(v)) && parts.has(key)) continue;
        if (patchValue(parts, key, v)) rebuilt = true;
      }
      if (rebuilt || change === null) setChildren(values, sortValues(bed.values ?? []).map((v) => parts.get(`value|${valueKey(v)}`).node));
      if (change === null) {
        // Parts of values the bed no longer has are forgotten.
        const keep = new Set((bed.values ?? []).map((v) => `value|${valueKey(v)}`));
        for (const key of parts.keys()) if (key.startsWith('value|') && !keep.has(key)) parts.delete(key);
      }
    }
    const pending = [...state.pending].filter((k) => k.startsWith(`${bed.bed}|`));
    const alarmsChanged = change === null || has('alarms') || headChanged;
    const alarms = !alarmsChanged && cachedNode('alarms') ? cachedNode('alarms') : part('alarms', JSON.stringify([bed.alarms, gatewayState, bed.gatewayReason, mayActOn(bed.bed), pending]), () => alarmsNode(bed));
    const b = bed.backfill ?? {};
    const historyChanged = change === null || has('backfill') || has('missingMessages') || has('sequenceGaps');
    const history = !historyChanged && parts.has('history') ? cachedNode('history') : part('history', JSON.stringify([b.received, b.oldestWallMs, b.newestWallMs, bed.missingMessages, bed.sequenceGaps]), () => historyNode(bed));
    setChildren(tile, [head, news2, values, alarms, ...(history ? [history] : [])]);
    refreshAges(tile, bed, change);
  }

  /** What a value's box looks like apart from its number and age: when it changes, the box is built anew. */
  function valueLook(v) {
    const current = v.current === true && v.value !== null;
    return [current, v.parameter, v.source, v.interfaceId, v.driver, v.unit, v.status, (v.quality ?? []).join(','), v.reason, v.backfill, v.stopped, v.enteredBy, v.valueCode,
      // Not current: the last value is written in words ("last 97 %"), part of the look.
      current ? '' : String(v.value)].join('|');
  }

  /** A value's box: its number and age written in place when its look is unchanged, else built anew (true). */
  function patchValue(parts, key, v) {
    const look = valueLook(v);
    const cached = parts.get(key);
    if (cached && cached.sig === look) {
      const number = cached.number;
      const shown = v.valueCode ? (CODE_DISPLAY[v.parameter]?.[v.valueCode] ?? v.valueCode) : formatNumber(v.value);
      if (v.current === true && v.value !== null) {
        setText(number, shown);
        const long = shown.length > 6;
        if (number.classList.contains('value-long') !== long) number.classList.toggle('value-long', long);
      }
      if (cached.age) setAge(cached.age, v.bornAt);
      return false;
    }
    const node = valueNode(v);
    // The number and the age are looked up once, when the box is built: they are written up to once a second.
    parts.set(key, { sig: look, node, number: node.querySelector('.value-number'), age: node.querySelector('.age') });
    return true;
  }

  /** Makes `nodes` the children of `parent`, touching the DOM only where they differ. */
  function setChildren(parent, nodes) {
    const current = parent.children;
    if (current.length === nodes.length && nodes.every((n, i) => current[i] === n)) return;
    if (current.length === nodes.length) {
      nodes.forEach((n, i) => {
        if (current[i] !== n) current[i].replaceWith(n);
      });
      if (nodes.every((n, i) => current[i] === n)) return;
    }
    parent.replaceChildren(...nodes);
  }

  /** The late-delivered history and the lost messages of a bed, or null when there are none. */
  function historyNode(bed) {
    const lines = [];
    if ((bed.backfill?.received ?? 0) > 0) {
      const b = bed.backfill;
      const range = b.oldestWallMs != null && b.newestWallMs != null ? ` from ${clock(b.oldestWallMs)} to ${clock(b.newestWallMs)}` : '';
      lines.push(el('span', { class: 'history-line', 'data-testid': 'backfill', text: `History: ${b.received} message(s) delivered late (backfill)${range}, never shown as current` }));
    }
    if ((bed.missingMessages ?? 0) > 0) {
      lines.push(el('span', { class: 'history-line', text: `${bed.missingMessages} numbered message(s) not received (${bed.sequenceGaps} gap(s))` }));
    }
    return lines.length === 0 ? null : el('p', { class: 'history' }, ...lines);
  }

  function gatewayText(bed) {
    if (bed.silent) return 'SILENT: nothing received';
    switch (bed.gateway) {
      case 'online': return 'Gateway online';
      case 'offline': return `Gateway OFFLINE: ${bed.gatewayReason || 'no reason given'}`;
      case 'lost': return `Gateway LOST: ${bed.gatewayReason || 'heartbeats stopped'}`;
      default: return 'Gateway state unknown';
    }
  }

  function sortValues(values) {
    const rank = (p) => {
      const i = ORDER.indexOf(p);
      return i < 0 ? ORDER.length : i;
    };
    return [...values].sort((a, b) => rank(a.parameter) - rank(b.parameter) || a.parameter.localeCompare(b.parameter) || valueKey(a).localeCompare(valueKey(b)));
  }

  function valueNode(v) {
    const current = v.current === true && v.value !== null;
    const unit = displayUnit(v.unit);
    const device = [v.interfaceId || v.source, v.driver].filter(Boolean);
    const shown = v.valueCode ? (CODE_DISPLAY[v.parameter]?.[v.valueCode] ?? v.valueCode) : formatNumber(v.value);
    const node = el('div', {
      class: `value ${current ? 'value-current' : 'value-not-current'}`,
      'data-testid': 'value',
      'data-parameter': v.parameter,
      'data-current': current ? 'true' : 'false',
      'data-source': v.interfaceId || v.source || '',
    });
    node.append(el('span', { class: 'value-label', text: label(v.parameter) + (v.source ? ` (${v.source})` : '') }));
    if (current) {
      node.append(el('span', { class: `value-number${shown.length > 6 ? ' value-long' : ''}`, 'data-testid': 'value-number', text: shown }), el('span', { class: 'value-unit', text: v.valueCode ? '' : unit }));
      const marks = [...(v.status && v.status !== 'final' ? [v.status] : []), ...(v.quality ?? [])];
      if (marks.length > 0) node.append(el('span', { class: 'value-marks', text: marks.join(', ') }));
    } else {
      // Never a number drawn as current: dashes, and the last value only small, greyed, with why.
      node.append(el('span', { class: 'value-number', 'data-testid': 'value-number', text: '--' }), el('span', { class: 'value-unit', text: v.valueCode ? '' : unit }));
      node.append(el('span', { class: 'value-why', 'data-testid': 'value-reason', text: notCurrentReason(v) }));
      if (v.value !== null) node.append(el('span', { class: 'value-last', text: `last ${shown}${v.valueCode ? '' : ` ${unit}`}` }));
    }
    const meta = el('span', { class: 'value-meta' });
    if (device.length > 0) meta.append(el('span', { class: 'value-device', 'data-testid': 'value-device', text: device.join(' · ') }), ' · ');
    meta.append(keyedAge(valueKey(v), v.bornAt, 'age ', ''));
    if (v.enteredBy) meta.append(` · entered by ${v.enteredBy}`);
    node.append(meta);
    return node;
  }

  function notCurrentReason(v) {
    if (v.backfill) return 'backfill (delivered late)';
    if (v.stopped) return v.reason ? `unavailable: ${v.reason}; data stopped` : 'data stopped';
    if (v.reason) return `unavailable: ${v.reason}`;
    if (v.value !== null && v.status === 'final') return 'not current';
    return v.status ? `not current: ${v.status}` : 'not current';
  }

  function news2Node(score) {
    if (!score) return el('div', { class: 'news2 news2-none', 'data-testid': 'news2', 'data-risk': 'none', 'data-current': 'false' }, el('span', { class: 'news2-label', text: 'NEWS2' }), el('span', { class: 'news2-total', text: '--' }), el('span', { class: 'news2-detail', text: 'no score yet' }));
    const current = score.current === true;
    const node = el('div', {
      class: `news2 risk-${score.riskLevel} ${current ? '' : 'news2-not-current'}`,
      'data-testid': 'news2',
      'data-risk': score.riskLevel,
      'data-current': current ? 'true' : 'false',
      'data-complete': score.complete ? 'true' : 'false',
    });
    node.append(el('span', { class: 'news2-label', text: 'NEWS2' }), el('span', { class: 'news2-total', 'data-testid': 'news2-total', text: current ? String(score.total) : '--' }));
    const risk = RISK_TEXT[score.riskLevel] ?? score.riskLevel;
    const detail = [];
    if (!current) detail.push(`not current (last ${score.total}${score.backfill ? ', backfill' : ''})`);
    detail.push(score.complete ? `complete, ${risk}` : `incomplete, at least ${risk}`);
    if (score.spo2Scale === 2) detail.push('SpO₂ scale 2');
    node.append(el('span', { class: 'news2-detail', text: detail.join(' · ') }));
    if (!score.complete && score.missing?.length) {
      node.append(el('span', { class: 'news2-missing', 'data-testid': 'news2-missing', text: `missing: ${score.missing.map((m) => NEWS2_FIELD[m] ?? m).join(', ')}` }));
    }
    for (const m of score.manualInputs ?? []) node.append(el('span', { class: 'news2-manual', text: `${NEWS2_FIELD[m.field] ?? m.field} ${m.valueCode} (entered by ${m.enteredBy})` }));
    node.append(keyedAge('score', score.bornAt, 'scored ', ' ago'));
    return node;
  }

  function alarmsNode(bed) {
    const alarms = bedAlarms(bed).sort((a, b) => (PRIORITY_RANK[b.priority] ?? 0) - (PRIORITY_RANK[a.priority] ?? 0));
    const physiological = alarms.filter((a) => a.kind === 'physiological');
    const technical = alarms.filter((a) => a.kind !== 'physiological');
    const list = (title, kind, items) =>
      el('section', { class: `alarms alarms-${kind}`, 'data-testid': `alarms-${kind}`, 'aria-label': `${title} alarms` },
        el('h4', { class: 'alarms-title', text: title }),
        items.length === 0 ? el('p', { class: 'alarms-none', text: 'none' }) : el('ul', { class: 'alarm-list' }, ...items.map((a) => alarmNode(bed, a))));
    return el('div', { class: 'alarm-lists' }, list('Patient', 'physiological', physiological), list('Technical', 'technical', technical));
  }

  function alarmNode(bed, a) {
    const kind = a.kind === 'physiological' ? 'physiological' : 'technical';
    const flashing = a.state === 'silenced' ? '' : `flash-${a.priority}`;
    const item = el('li', {
      class: `alarm alarm-${a.priority} ${flashing}`,
      'data-testid': 'alarm',
      'data-alarm-id': a.alarmId,
      'data-priority': a.priority,
      'data-kind': kind,
      'data-state': a.state,
    });
    item.append(el('span', { class: 'alarm-priority', text: PRIORITY_TEXT[a.priority] ?? a.priority.toUpperCase() }));
    // A relayed alarm's text already names its device ("device Masimo Rad-8 SN ... on spo2: ..."): not said twice.
    const namesDevice = /^device /.test(a.detail || '');
    const from = a.origin === 'device' && !namesDevice ? `device on ${a.source || 'unknown interface'}: ` : a.origin === 'station' ? 'station: ' : '';
    item.append(el('span', { class: 'alarm-detail', text: `${from}${a.detail || a.alarmId}` }));
    if (a.origin === 'station' && typeof a.bornAt === 'number') item.append(' ', keyedAge('silent', a.bornAt, 'for ', ''));
    if (a.state === 'acknowledged') {
      item.append(el('span', { class: 'alarm-acked' }, 'acknowledged by ', el('span', { 'data-testid': 'alarm-acked-by', text: a.acknowledgedBy || 'unknown' })));
    } else if (a.state === 'silenced') {
      item.append(el('span', { class: 'alarm-acked', text: `silenced until ${clock(a.silencedUntilWallMs)}` }));
      if (a.acknowledgedBy) item.append(el('span', { class: 'alarm-acked' }, ' by ', el('span', { 'data-testid': 'alarm-acked-by', text: a.acknowledgedBy })));
    }
    if (a.origin !== 'station') {
      const permitted = mayActOn(bed.bed);
      const buttons = el('span', { class: 'alarm-actions' });
      if (a.state === 'active') buttons.append(commandButton(bed.bed, a, 'ack', 'Acknowledge', permitted));
      if (a.state !== 'silenced') buttons.append(commandButton(bed.bed, a, 'silence', `Silence ${SILENCE_SEC / 60} min`, permitted));
      // A device held back as another device (HAZ-011): a nurse who checked the bedside confirms it,
      // as the signed-in user (docs/interfaces/commands.md, deviceConfirm).
      if (a.condition === 'device-identity' && a.source) buttons.append(commandButton(bed.bed, a, 'confirm-device', 'Confirm new device', permitted));
      if (buttons.childElementCount > 0) item.append(buttons);
    }
    return item;
  }

  function commandButton(bedKey, alarm, kind, text, permitted) {
    const pendingKey = `${bedKey}|${alarm.alarmId}|${kind}`;
    const pending = state.pending.has(pendingKey);
    const button = el('button', {
      type: 'button',
      class: `btn btn-${kind}`,
      'data-testid': kind,
      'data-focus-key': `${kind}|${bedKey}|${alarm.alarmId}`,
      disabled: pending || !permitted,
      title: permitted ? undefined : 'You may not act on this bed',
      text: pending ? 'Sending…' : text,
    });
    button.addEventListener('click', () => {
      const action =
        kind === 'ack' ? { kind: 'ack', alarmId: alarm.alarmId }
        : kind === 'confirm-device' ? { kind: 'confirm-device', interfaceId: alarm.source, serialNumber: '' }
        : { kind: 'silence', alarmId: alarm.alarmId, durationSec: SILENCE_SEC };
      const what = kind === 'ack' ? 'Acknowledge' : kind === 'confirm-device' ? `Confirm the new device on ${alarm.source}:` : 'Silence';
      void sendCommand(bedKey, action, pendingKey, `${what} ${alarm.alarmId}`);
    });
    return button;
  }

  async function sendCommand(bedKey, action, pendingKey, what) {
    state.pending.add(pendingKey);
    drawWard();
    try {
      const { status, json } = await api('/api/command', { method: 'POST', body: { bed: bedKey, action } });
      if (status === 200 && json?.status === 'accepted') toast(`${what} on ${bedKey}: accepted by the gateway`);
      else if (status === 200) toast(`${what} on ${bedKey}: rejected by the gateway (${json?.reason || 'no reason'})`, true);
      else if (status === 401) showLogin('Your session has ended: sign in again.');
      else if (status === 403 && json?.error === 'bed-not-permitted') toast(`${what}: you may not act on ${bedKey}`, true);
      else if (status === 504) toast(`${what} on ${bedKey}: no answer from the gateway within 10 s`, true);
      else if (status === 503 && json?.error === 'broker-not-connected') toast(`${what} on ${bedKey}: not sent, the station has lost the broker`, true);
      else if (status === 404 && json?.error === 'unknown-bed') toast(`${what}: the station has never heard from ${bedKey}`, true);
      else toast(`${what} on ${bedKey}: refused (${json?.error ?? status})`, true);
    } catch {
      toast(`${what} on ${bedKey}: the station does not answer`, true);
    } finally {
      state.pending.delete(pendingKey);
      drawWard();
    }
  }

  function toast(message, bad = false) {
    const node = $('toast');
    node.textContent = message;
    node.className = bad ? 'toast toast-bad' : 'toast';
    node.hidden = false;
    clearTimeout(state.toastTimer);
    state.toastTimer = setTimeout(() => (node.hidden = true), 8000);
  }

  // ---- the bed page ---------------------------------------------------------------------------

  function currentBedKey() {
    const match = /^#bed=(.+)$/.exec(location.hash);
    if (!match) return null;
    try {
      return decodeURIComponent(match[1]);
    } catch {
      return null;
    }
  }

  function route() {
    if (!state.session) return;
    const bedKey = currentBedKey();
    clearInterval(state.trendTimer);
    if (bedKey === null) {
      const wasBed = !$('bed').hidden ? $('bed').dataset.bed : null;
      $('bed').hidden = true;
      $('board').hidden = false;
      $('trends').replaceChildren();
      $('alarm-log-body').replaceChildren();
      if (wasBed) document.querySelector(`[data-focus-key="${CSS.escape(`open|${wasBed}`)}"]`)?.focus();
      return;
    }
    $('board').hidden = true;
    $('bed').hidden = false;
    $('bed').dataset.bed = bedKey;
    $('bed-title').textContent = `Bed ${bedKey}`;
    $('trends').replaceChildren();
    $('alarm-log-body').replaceChildren();
    $('trend-state').textContent = 'Loading trends…';
    state.detail = null;
    $('observe-submit').disabled = !mayActOn(bedKey);
    $('observe-submit').title = mayActOn(bedKey) ? '' : 'You may not act on this bed';
    drawBedNow();
    $('bed-title').focus();
    void loadTrends(bedKey);
    state.trendTimer = setInterval(() => void loadTrends(bedKey), TREND_REFRESH_MS);
  }

  /** The bed page's "now" panel; `change`: what a partial event changed of this bed (null: every part). */
  function drawBedNow(change = null) {
    const bedKey = $('bed').dataset.bed;
    const bed = state.beds.get(bedKey);
    const panel = $('bed-now');
    const focusKey = panel.contains(document.activeElement) ? document.activeElement?.dataset?.focusKey : undefined;
    if (!bed) {
      state.detail = null;
      panel.replaceChildren(el('p', { text: state.ward ? 'The station has no data from this bed.' : 'Waiting for the station…' }));
      return;
    }
    if (state.detail?.bed !== bed.bed) {
      state.detail = { bed: bed.bed, tile: el('article', { class: 'tile tile-large', 'data-testid': 'bed-detail', 'data-bed': bed.bed }), parts: new Map() };
      panel.replaceChildren(state.detail.tile);
    }
    patchTile(state.detail.tile, state.detail.parts, bed, true, state.detail.parts.size === 0 ? null : change);
    if (focusKey && document.activeElement?.dataset?.focusKey !== focusKey) panel.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
    const recent = JSON.stringify(bed.backfill?.recent ?? []);
    if (state.detail.recent === recent) return;
    state.detail.recent = recent;
    const list = $('backfill-list');
    list.replaceChildren(...(bed.backfill?.recent ?? []).slice().reverse().map((h) => el('li', { class: 'backfill-item', text: `${clock(h.wallMs)}  #${h.sequence}  ${h.summary}  (delivered late)` })));
    if (list.childElementCount === 0) list.append(el('li', { text: 'none' }));
  }

  /** A manual observation from the bed page's form, sent as the signed-in user (docs/interfaces/commands.md). */
  function observe(event) {
    event.preventDefault();
    const bedKey = $('bed').dataset.bed;
    if (!bedKey || !state.session) return;
    const action = { kind: 'observe' };
    const consciousness = $('observe-consciousness').value;
    const oxygen = $('observe-oxygen').value;
    const scale = $('observe-scale').value;
    if (consciousness) action.consciousness = consciousness;
    if (oxygen) action.onOxygen = oxygen === 'true';
    if (scale) action.spo2Scale = Number(scale);
    if (Object.keys(action).length === 1) {
      toast('Choose what to record first.', true);
      return;
    }
    const pendingKey = `${bedKey}|observe|observe`;
    if (state.pending.has(pendingKey)) return;
    $('observe-submit').disabled = true;
    void sendCommand(bedKey, action, pendingKey, 'Observation').finally(() => {
      $('observe-submit').disabled = !mayActOn(bedKey);
      $('observe-form').reset();
    });
  }

  async function loadTrends(bedKey) {
    let answer;
    try {
      answer = await api(`/api/trends?bed=${encodeURIComponent(bedKey)}`);
    } catch {
      $('trend-state').textContent = 'The station does not answer: trends not updated.';
      return;
    }
    if (currentBedKey() !== bedKey || !state.session) return;
    if (answer.status === 401) {
      showLogin('Your session has ended: sign in again.');
      return;
    }
    if (answer.status !== 200 || !answer.json) {
      $('trend-state').textContent = `No trends (${answer.json?.error ?? answer.status}).`;
      return;
    }
    drawTrends(answer.json);
  }

  function drawTrends(trends) {
    const from = trends.fromWallMs;
    const to = trends.toWallMs;
    // A parameter the bed has from several sources is one series per source: `<parameter>@<interface>`.
    const base = (name) => name.split('@')[0];
    const rank = (name) => (ORDER.indexOf(base(name)) < 0 ? ORDER.length : ORDER.indexOf(base(name)));
    const series = Object.entries(trends.series ?? {}).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
    const values = state.beds.get(trends.bed)?.values ?? [];
    const plots = [plot('news2', 'NEWS2', '', trends.news2 ?? [], from, to, [0, 20])];
    for (const [name, points] of series) {
      const [parameter, source] = name.split('@');
      const unit = displayUnit(values.find((v) => v.parameter === parameter)?.unit);
      plots.push(plot(name, `${label(parameter)}${source ? ` (${source})` : ''}`, unit, points, from, to, null));
    }
    $('trends').replaceChildren(...plots);
    $('trend-state').textContent = `From ${clock(from)} to ${clock(to)}; one point per 5 s; gaps are drawn as gaps.`;
    const rows = [...(trends.alarmLog ?? [])].reverse().map((a) =>
      el('tr', { 'data-testid': 'alarm-log-row', 'data-alarm-id': a.alarmId, 'data-state': a.state },
        el('td', { text: clock(a.wallMs) }),
        el('td', {}, el('span', { class: `alarm-tag alarm-${a.priority}`, text: PRIORITY_TEXT[a.priority] ?? String(a.priority ?? '') })),
        el('td', { text: a.alarmId }),
        el('td', { text: a.state }),
        el('td', { text: a.detail ?? '' }),
        el('td', { text: a.by ?? '' })));
    $('alarm-log-body').replaceChildren(...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: 6, text: 'No alarm in the last 4 hours.' }))]));
  }

  /** One SVG trend plot: time across (4 h), value up; a gap of more than 15 s in the data is left as a gap. */
  function plot(key, title, unit, points, fromMs, toMs, fixedRange) {
    const W = 800;
    const H = 150;
    const PAD_L = 44;
    const PAD_R = 8;
    const PAD_T = 8;
    const PAD_B = 20;
    const values = points.map((p) => p[1]).filter((v) => Number.isFinite(v));
    let [lo, hi] = fixedRange ?? [Math.min(...values), Math.max(...values)];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
    if (hi - lo < 1e-9) [lo, hi] = [lo - 1, hi + 1];
    const x = (t) => PAD_L + ((t - fromMs) / Math.max(1, toMs - fromMs)) * (W - PAD_L - PAD_R);
    const y = (v) => PAD_T + (1 - (v - lo) / (hi - lo)) * (H - PAD_T - PAD_B);
    const last = points.at(-1);
    const figure = el('figure', { class: 'trend', 'data-testid': 'trend', 'data-series': key, 'data-points': points.length });
    const caption = el('figcaption', { class: 'trend-title' }, `${title}${unit ? ` (${unit})` : ''}`, last ? el('span', { class: 'trend-last', text: `  last ${formatNumber(last[1])} at ${clock(last[0])}` }) : el('span', { class: 'trend-last', text: '  no data' }));
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'trend-svg', role: 'img', 'aria-label': `${title} trend, ${points.length} points` });
    chart.append(svg('rect', { x: PAD_L, y: PAD_T, width: W - PAD_L - PAD_R, height: H - PAD_T - PAD_B, class: 'trend-area' }));
    for (const v of [lo, hi]) {
      chart.append(svg('line', { x1: PAD_L, x2: W - PAD_R, y1: y(v), y2: y(v), class: 'trend-grid' }));
      chart.append(svg('text', { x: PAD_L - 4, y: y(v) + 4, class: 'trend-axis', 'text-anchor': 'end', text: formatNumber(v) }));
    }
    const HOUR = 3_600_000;
    for (let t = Math.ceil(fromMs / HOUR) * HOUR; t <= toMs; t += HOUR) {
      chart.append(svg('line', { x1: x(t), x2: x(t), y1: PAD_T, y2: H - PAD_B, class: 'trend-grid' }));
      chart.append(svg('text', { x: x(t), y: H - 5, class: 'trend-axis', 'text-anchor': 'middle', text: clock(t).slice(0, 5) }));
    }
    const GAP_MS = 15_000;
    let run = [];
    const flush = () => {
      if (run.length === 1) chart.append(svg('circle', { cx: run[0][0], cy: run[0][1], r: 2, class: 'trend-dot' }));
      else if (run.length > 1) chart.append(svg('polyline', { points: run.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' '), class: 'trend-line' }));
      run = [];
    };
    let prev = null;
    for (const [t, v] of points) {
      if (!Number.isFinite(v) || t < fromMs) continue;
      if (prev !== null && t - prev > GAP_MS) flush();
      run.push([x(t), y(Math.min(hi, Math.max(lo, v)))]);
      prev = t;
    }
    flush();
    figure.append(caption, chart);
    return figure;
  }

  // ---- start ------------------------------------------------------------------------------------

  function onKey(event) {
    if (event.key === 'Escape' && !$('bed').hidden) {
      event.preventDefault();
      location.hash = '';
    }
  }

  async function start() {
    $('login-form').addEventListener('submit', login);
    $('observe-form').addEventListener('submit', observe);
    $('logout').addEventListener('click', () => void logout());
    $('bed-back').addEventListener('click', (event) => {
      event.preventDefault();
      location.hash = '';
    });
    window.addEventListener('hashchange', route);
    document.addEventListener('keydown', onKey);
    setInterval(tickAges, AGE_TICK_MS);
    setInterval(updateLink, LINK_TICK_MS);
    try {
      const { status, json } = await api('/api/session');
      if (status === 200 && json) signedIn(json);
      else showLogin();
    } catch {
      showLogin('The station does not answer.');
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => void start());
  else void start();
})();
