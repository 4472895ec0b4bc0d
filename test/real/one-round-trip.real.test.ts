import wrtc from '@roamhq/wrtc';
import { describe, expect, test } from 'vitest';
import type { ManagedConnection } from '../../src/managed-connection.js';
import { Pool } from '../../src/pool.js';
import { GeneratedMedia } from '../support/generated-media.js';
import { hubSignalling } from '../support/hub-signalling.js';
import { MemoryHub } from '../support/memory-hub.js';
import { until } from '../support/wait.js';

/**
 * One round trip per pair on libwebrtc (@roamhq/wrtc): the applications
 * change their connections on `peer`, the README's pattern, and the pair's
 * descriptions are counted on the wire. The newcomer waits for the present
 * endpoint's first offer; its answer carries what it can.
 */

const STABLE = JSON.stringify({ stable: 'idle' });

type OnPeer = (connection: ManagedConnection, media: GeneratedMedia) => void;

interface Outcome {
  /** Descriptions each side sent, by type. */
  present: string[];
  newcomer: string[];
  /** Remote tracks each side received. */
  tracksAtPresent: number;
  tracksAtNewcomer: number;
}

async function pairWith(onPresentPeer: OnPeer, onNewcomerPeer: OnPeer, expectTracks: [number, number]) {
  const hub = new MemoryHub();
  const options = { RTCPeerConnection: wrtc.RTCPeerConnection as never };
  const sent = { present: [] as string[], newcomer: [] as string[] };
  const counted = (side: keyof typeof sent) => {
    const channel = hubSignalling(hub);
    const send = channel.send;
    channel.send = (message) => {
      if (message.type === 'rtc:sdp') sent[side].push(message.data.description.type);
      send(message);
    };
    return channel;
  };
  const present = new Pool({ iceServers: [] }, counted('present'), options);
  const newcomer = new Pool({ iceServers: [] }, counted('newcomer'), options);
  const media = [new GeneratedMedia(), new GeneratedMedia()] as const;
  const tracks = { present: 0, newcomer: 0 };
  const errors: string[] = [];
  present.events.ontrack = () => {
    tracks.present += 1;
  };
  newcomer.events.ontrack = () => {
    tracks.newcomer += 1;
  };
  present.events.onerror = ({ detail: { error } }) => errors.push(error.message);
  newcomer.events.onerror = ({ detail: { error } }) => errors.push(error.message);
  present.events.onpeer = ({ detail: { connection } }) => onPresentPeer(connection, media[0]);
  newcomer.events.onpeer = ({ detail: { connection } }) => onNewcomerPeer(connection, media[1]);
  try {
    await present.join('room');
    await newcomer.join('room');
    await until(
      () => {
        const [mine, theirs] = [present.connections[0], newcomer.connections[0]];
        return (
          mine?.connectionState === 'connected' &&
          theirs?.connectionState === 'connected' &&
          JSON.stringify(mine.negotiationState) === STABLE &&
          JSON.stringify(theirs.negotiationState) === STABLE &&
          tracks.present === expectTracks[0] &&
          tracks.newcomer === expectTracks[1]
        );
      },
      'both connected, stable, every track received',
      10_000,
    );
    // Anything still owed would be offered within a task or two.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(errors).toEqual([]);
    return {
      present: sent.present,
      newcomer: sent.newcomer,
      tracksAtPresent: tracks.present,
      tracksAtNewcomer: tracks.newcomer,
    } satisfies Outcome;
  } finally {
    for (const m of media) m.stop();
    newcomer.close();
    present.close();
  }
}

const openChannel: OnPeer = (connection) => {
  void connection.dataChannel('app');
};
const addCamera: OnPeer = (connection, media) => {
  connection.addTrack(media.audioTrack, media.stream);
  connection.addTrack(media.videoTrack, media.stream);
};

describe('one round trip per pair (wrtc)', () => {
  test('both open a data channel on `peer`: one offer, one answer', async () => {
    const outcome = await pairWith(openChannel, openChannel, [0, 0]);
    expect(outcome).toMatchObject({ present: ['offer'], newcomer: ['answer'] });
  });

  test('both add camera and microphone on `peer`: one offer, one answer, both tracks each way', async () => {
    const outcome = await pairWith(addCamera, addCamera, [2, 2]);
    expect(outcome).toEqual({ present: ['offer'], newcomer: ['answer'], tracksAtPresent: 2, tracksAtNewcomer: 2 });
  });

  test('a newcomer adding media the first offer does not carry: its own offer follows the round trip', async () => {
    const outcome = await pairWith(openChannel, addCamera, [2, 0]);
    expect(outcome).toEqual({
      present: ['offer', 'answer'],
      newcomer: ['answer', 'offer'],
      tracksAtPresent: 2,
      tracksAtNewcomer: 0,
    });
  });
});
