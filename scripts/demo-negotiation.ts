/**
 * Two @roamhq/wrtc peers on this machine, negotiated by rtcpool's machine:
 * both open a data channel in the same tick (an offer collision), talk, both
 * restart ICE at once, talk again. Prints what happened.
 */
import wrtc from '@roamhq/wrtc';
import {
  createNegotiationActor,
  type NegotiationActor,
  type OutgoingSignal,
  type PeerConnectionLike,
} from '../src/index.js';

interface Channel {
  readonly label: string;
  readyState: string;
  send(data: string): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}
type Connection = PeerConnectionLike & {
  createDataChannel(label: string): Channel;
  ondatachannel: ((event: { channel: Channel }) => void) | null;
};

const started = performance.now();
const say = (line: string) => console.log(`${(performance.now() - started).toFixed(0).padStart(5)} ms  ${line}`);

function peer(name: string, polite: boolean) {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] }) as unknown as Connection;
  const self = {
    pc,
    actor: undefined as unknown as NegotiationActor,
    remote: undefined as undefined | ((signal: OutgoingSignal) => void),
    received: [] as string[],
  };
  self.actor = createNegotiationActor({
    pc,
    polite,
    peerId: name,
    send: (signal) => {
      if (signal.type === 'description') say(`${name} sends ${signal.description.type}`);
      setImmediate(() => self.remote?.(signal));
    },
    onError: (error) => say(`${name} error ${error.code}: ${error.message}`),
  });
  pc.ondatachannel = ({ channel }) => {
    channel.onmessage = ({ data }) => {
      self.received.push(String(data));
      say(`${name} received "${data}"`);
    };
  };
  return self;
}

const deliverTo = (to: ReturnType<typeof peer>) => (signal: OutgoingSignal) =>
  signal.type === 'description'
    ? to.actor.send({ type: 'signal.description', description: signal.description })
    : to.actor.send({ type: 'signal.candidate', candidate: signal.candidate });

const until = async (condition: () => boolean) => {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the demo timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const alice = peer('alice (polite)', true);
const bob = peer('bob (impolite)', false);
alice.remote = deliverTo(bob);
bob.remote = deliverTo(alice);

say('both open a data channel in the same tick');
const fromAlice = alice.pc.createDataChannel('alice');
const fromBob = bob.pc.createDataChannel('bob');
await until(() => fromAlice.readyState === 'open' && fromBob.readyState === 'open');
fromAlice.send('hello bob');
fromBob.send('hello alice');
await until(() => alice.received.length === 1 && bob.received.length === 1);

say('both restart ICE at once');
alice.actor.send({ type: 'app.restartIce' });
bob.actor.send({ type: 'app.restartIce' });
const settled = (p: ReturnType<typeof peer>) => p.actor.getSnapshot().matches({ stable: 'idle' });
await until(() => settled(alice) && settled(bob) && ['connected', 'completed'].includes(alice.pc.iceConnectionState));
fromAlice.send('still here?');
fromBob.send('still here.');
await until(() => alice.received.length === 2 && bob.received.length === 2);

say('done; closing');
alice.actor.stop();
bob.actor.stop();
