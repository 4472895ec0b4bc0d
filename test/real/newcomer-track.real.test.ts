import wrtc from '@roamhq/wrtc';
import { expect, test } from 'vitest';
import { Pool } from '../../src/pool.js';
import { GeneratedMedia } from '../support/generated-media.js';
import { hubSignalling } from '../support/hub-signalling.js';
import { MemoryHub } from '../support/memory-hub.js';
import { until } from '../support/wait.js';

/**
 * A newcomer that adds a track the moment its connection exists collides
 * with the first offer of the endpoint already present. wrtc then fires
 * negotiationneeded only while the machine is still rolling back or
 * answering; the machine must remember it, or the track is never sent.
 */
test('a track a newcomer adds right after joining reaches the peer already present (wrtc)', async () => {
  for (let round = 0; round < 6; round++) {
    const hub = new MemoryHub();
    const options = { RTCPeerConnection: wrtc.RTCPeerConnection as never };
    const present = new Pool({ iceServers: [] }, hubSignalling(hub), options);
    const newcomer = new Pool({ iceServers: [] }, hubSignalling(hub), options);
    const media = new GeneratedMedia();
    let tracks = 0;
    present.events.ontrack = () => {
      tracks += 1;
    };
    newcomer.events.onpeer = ({ detail: { connection } }) => connection.addTrack(media.videoTrack, media.stream);
    try {
      await present.join('room');
      await newcomer.join('room');
      await until(() => tracks === 1, `round ${round}: the newcomer's track at the present endpoint`, 10_000);
      expect(newcomer.events.onerror).toBeNull();
    } finally {
      media.stop();
      newcomer.close();
      present.close();
    }
  }
});
