import t from 'tap';
import { parseTopic, topics } from '../../agent/src/publish/topics';

const bed = { siteId: 'site1', wardId: 'ward7', bedId: 'bed12' };

t.test('REQ-STATION-003 a bed topic is read back part by part; a topic outside the tree, or with an empty part, is no bed message', async (t) => {
  t.same(parseTopic(topics.observation(bed, 'spo2')), { ...bed, kind: 'obs', rest: ['spo2'] });
  t.same(parseTopic(topics.status(bed)), { ...bed, kind: 'status', rest: [] });
  t.same(parseTopic(topics.alarm(bed, 'spo2.link-lost')), { ...bed, kind: 'alarm', rest: ['spo2.link-lost'] });
  t.same(parseTopic(topics.receipt(bed, 'station-a')), { ...bed, kind: 'receipt', rest: ['station-a'] });
  t.same(parseTopic('vigil/v1/s/w/b/obs/a/b'), { siteId: 's', wardId: 'w', bedId: 'b', kind: 'obs', rest: ['a', 'b'] }, 'deeper levels kept');
  t.same(parseTopic('vigil/v1/s/w/b/obs/'), { siteId: 's', wardId: 'w', bedId: 'b', kind: 'obs', rest: [''] }, 'an empty last level kept as such');
  for (const bad of ['vigil/v1/s/w/b', 'vigil/v1/s/w/b/', 'vigil/v1//w/b/status', 'vigil/v1/s//b/status', 'vigil/v1/s/w//status', 'vigil/v2/s/w/b/status', 'other/v1/s/w/b/status', 'vigil/v1', '', 'vigil/v1/s/w/b//x']) {
    t.equal(parseTopic(bad), null, `not a bed message: "${bad}"`);
  }
});
