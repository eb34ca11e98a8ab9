/**
 * The MQTT topic tree (docs/interfaces/mqtt.md):
 *
 *   vigil/v1/<site>/<ward>/<bed>/status              GatewayStatus   QoS 1, retained (last will: offline)
 *   vigil/v1/<site>/<ward>/<bed>/obs/<parameter>     Observation     QoS 1, retained, expires after the value's max age
 *   vigil/v1/<site>/<ward>/<bed>/score               EarlyWarningScore QoS 1, retained, expires
 *   vigil/v1/<site>/<ward>/<bed>/alarm/<alarm-id>    Alarm           QoS 1, retained while relevant, expires
 *   vigil/v1/<site>/<ward>/<bed>/cmd                 Command         station -> gateway, QoS 1, not retained
 *   vigil/v1/<site>/<ward>/<bed>/cmd-result          CommandResult   gateway -> station, QoS 1, not retained
 *   vigil/v1/<site>/<ward>/<bed>/receipt/<station>   DeliveryReceipt station -> gateway, QoS 1, not retained
 */
export const TOPIC_ROOT = 'vigil/v1';

export interface BedAddress {
  siteId: string;
  wardId: string;
  bedId: string;
}

export function bedTopic(a: BedAddress): string {
  return `${TOPIC_ROOT}/${a.siteId}/${a.wardId}/${a.bedId}`;
}

export const topics = {
  status: (a: BedAddress) => `${bedTopic(a)}/status`,
  observation: (a: BedAddress, parameter: string) => `${bedTopic(a)}/obs/${parameter}`,
  score: (a: BedAddress) => `${bedTopic(a)}/score`,
  alarm: (a: BedAddress, alarmId: string) => `${bedTopic(a)}/alarm/${alarmId}`,
  /** Commands from the station to this bed's gateway (docs/interfaces/commands.md). */
  command: (a: BedAddress) => `${bedTopic(a)}/cmd`,
  commandResult: (a: BedAddress) => `${bedTopic(a)}/cmd-result`,
  /** A station's delivery receipts for this bed's gateway (end to end: HAZ-013, CTRL-025). */
  receipt: (a: BedAddress, stationId: string) => `${bedTopic(a)}/receipt/${stationId}`,
  /** What a gateway subscribes to: the receipts of every station for its bed. */
  receipts: (a: BedAddress) => `${bedTopic(a)}/receipt/+`,
  /** What the station subscribes to: every bed of every ward of every site. */
  all: `${TOPIC_ROOT}/#`,
};

/** Parses a Vigil topic back into its bed address and message type; null if not ours. */
export function parseTopic(topic: string): (BedAddress & { kind: string; rest: string[] }) | null {
  // By hand rather than split and destructure: a station parses every message's topic (3,000 a second for a ward).
  if (!topic.startsWith('vigil/v1/')) return null;
  const a = 9; // after "vigil/v1/"
  const b = topic.indexOf('/', a);
  const c = b < 0 ? -1 : topic.indexOf('/', b + 1);
  const d = c < 0 ? -1 : topic.indexOf('/', c + 1);
  if (d < 0) return null;
  const e = topic.indexOf('/', d + 1);
  const siteId = topic.slice(a, b);
  const wardId = topic.slice(b + 1, c);
  const bedId = topic.slice(c + 1, d);
  const kind = e < 0 ? topic.slice(d + 1) : topic.slice(d + 1, e);
  if (!siteId || !wardId || !bedId || !kind) return null;
  return { siteId, wardId, bedId, kind, rest: e < 0 ? [] : topic.slice(e + 1).split('/') };
}

/** MQTT v5 content type of each payload: the protobuf message it carries. */
export const CONTENT_TYPE = 'application/x-protobuf; proto=vigil.v1.Envelope';
