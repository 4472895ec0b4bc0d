/**
 * Two endpoints of one pool through the test's own `rtcpool serve` (the
 * built CLI, its own process), each in a browser page that loads rtcpool
 * from the server's `/rtcpool.js`, in every mix of Chromium and Firefox:
 * Chromium first and Firefox second, the other way round (the later joiner
 * is the polite side), and Firefox with Firefox (Chromium with Chromium is
 * the reference the others are held to).
 *
 * Per mix, in order on one pool: (a) both open a data channel as soon as
 * they see each other (the newcomer's rides the answer to the present
 * side's first offer: one round trip); (b) a fake camera and microphone each way
 * (ManagedStream), and muting seen on the far side; (c) both restart ICE in
 * the same task as a burst of new tracks, again colliding; (e) each side in
 * turn prefers a video codec the other is not receiving and asks for a
 * negotiation (setCodecPreferences fires no `negotiationneeded`); (d) the
 * first endpoint leaves and joins again (a new id) and the pair meshes again.
 * Every phase counts the offers and answers each side sent and holds them to
 * the bounds of docs/negotiation.md: a collision costs 3 (both offers, then
 * the polite side's answer), a change on one side exactly 2.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type DriverBrowser, type Engine, launchChromiumDriver, pollUntil } from '../support/browser-driver.js';
import { bundlePoolHarness, PoolPage, waitForMedia, waitPair } from '../support/browser-pool-driver.js';
import type { PoolPeerStatus } from '../support/browser-pool-page.js';
import { type CliServer, startCliServer } from '../support/cli-server.js';
import { launchFirefoxDriver } from '../support/firefox.js';

let server: CliServer;
let harness = '';
const launched = new Map<Engine, Promise<DriverBrowser>>();
const browserFor = (engine: Engine): Promise<DriverBrowser> => {
  let browser = launched.get(engine);
  if (!browser) {
    browser = engine === 'chromium' ? launchChromiumDriver({ media: true }) : launchFirefoxDriver();
    launched.set(engine, browser);
  }
  return browser;
};

beforeAll(async () => {
  [server, harness] = await Promise.all([startCliServer(), bundlePoolHarness()]);
});
afterAll(async () => {
  await Promise.all([...launched.values()].map(async (browser) => (await browser).close()));
  await server?.stop();
});

const sdp = ({ sent }: PoolPeerStatus) => sent.offers + sent.answers;
const iceConnected = ({ iceConnectionState }: PoolPeerStatus) =>
  iceConnectionState === 'connected' || iceConnectionState === 'completed';
const settledAndConnected = (status: PoolPeerStatus) => status.settled && status.connectionState === 'connected';
/** What each side sent since `before` (same order: a's view of b, b's view of a). */
const sentSince = (now: PoolPeerStatus[], before: PoolPeerStatus[]) =>
  now.map(({ sent }, i) => ({
    offers: sent.offers - (before[i]?.sent.offers ?? 0),
    answers: sent.answers - (before[i]?.sent.answers ?? 0),
  }));

/** Sends `text` from `from` on channel `label` and waits for it at `to`. */
async function deliver(from: PoolPage, to: PoolPage, label: string, text: string): Promise<void> {
  await from.send(to, label, text);
  await pollUntil(
    () => to.peer(from),
    (status) => status?.messages.includes(text) === true,
    `"${text}" from ${from.name} (${from.engine}) at ${to.name} (${to.engine})`,
  );
}

/** Video codecs a preference change may switch to, in this order (both browsers encode VP8 and VP9 in software). */
const CODEC_CHOICES = ['video/VP8', 'video/VP9', 'video/H264', 'video/AV1'];
const sameCodec = (one: string, other: string) => one.toLowerCase() === other.toLowerCase();

/** The first of CODEC_CHOICES not in `inUse` that `sender` can send (and set as a preference) and `receiver` receive. */
async function codecToPrefer(sender: PoolPage, receiver: PoolPage, inUse: string[]): Promise<string | undefined> {
  const [sends, receives] = await Promise.all([sender.videoCodecs(), receiver.videoCodecs()]);
  const has = (list: string[], codec: string) => list.some((known) => sameCodec(known, codec));
  return CODEC_CHOICES.find(
    (codec) =>
      !has(inUse, codec) && has(sends.send, codec) && has(sends.receive, codec) && has(receives.receive, codec),
  );
}

interface Mix {
  first: Engine;
  second: Engine;
}

const MIXES: Mix[] = [
  { first: 'chromium', second: 'firefox' },
  { first: 'firefox', second: 'chromium' },
  { first: 'firefox', second: 'firefox' },
  { first: 'chromium', second: 'chromium' },
];

describe.for(MIXES)('$first joins first, $second second (polite)', ({ first, second }) => {
  const pool = `mix-${first}-${second}`;
  let a: PoolPage;
  let b: PoolPage;
  /** Offers and answers per phase, reported at the end. */
  const phases: string[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([
      browserFor(first).then((browser) => PoolPage.open(browser, server.url, harness, `A-${first}`)),
      browserFor(second).then((browser) => PoolPage.open(browser, server.url, harness, `B-${second}`)),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  test('(a) both open a channel the moment they meet: one offer, one answer, both channels both ways', async ({
    annotate,
  }) => {
    await a.join(pool, true);
    await b.join(pool, true);
    const [ab, ba] = await waitPair(
      a,
      b,
      (status, self) =>
        settledAndConnected(status) &&
        status.own[`from-${self.name}`] === 'open' &&
        Object.values(status.remote).includes('open'),
      'stable, connected, both channels open on both sides',
    );
    expect(ab.polite).toBe(false);
    expect(ba.polite).toBe(true);
    // The newcomer waits for the present side's first offer: its channel rides on the association its answer
    // sets up, so the pair costs one round trip although both applications opened a channel at once.
    expect(ab.sent).toEqual({ offers: 1, answers: 0 });
    expect(ba.sent).toEqual({ offers: 0, answers: 1 });
    phases.push(`join ${sdp(ab) + sdp(ba)}`);

    await deliver(a, b, `from-${a.name}`, 'a→b on a');
    await deliver(b, a, `from-${a.name}`, 'b→a on a');
    await deliver(b, a, `from-${b.name}`, 'b→a on b');
    await deliver(a, b, `from-${b.name}`, 'a→b on b');
    await annotate(phases.join(', '));
  });

  test('(b) camera and microphone each way, 2 descriptions each; muting is seen (and heard) on the far side', async ({
    annotate,
  }) => {
    for (const [sender, receiver] of [
      [a, b],
      [b, a],
    ] as const) {
      const before = await Promise.all([sender.peer(receiver), receiver.peer(sender)]);
      expect(await sender.startCamera()).toEqual(['audio', 'video']);
      const settled = await waitPair(
        sender,
        receiver,
        (status, self) =>
          settledAndConnected(status) &&
          (self === receiver ? status.tracks.audio >= 1 && status.tracks.video >= 1 : true),
        `${receiver.name} receiving ${sender.name}'s camera, both stable`,
      );
      const [bySender, byReceiver] = sentSince(settled, before as PoolPeerStatus[]);
      expect(bySender).toEqual({ offers: 1, answers: 0 });
      expect(byReceiver).toEqual({ offers: 0, answers: 1 });
      phases.push(`${sender.name} camera ${(bySender?.offers ?? 0) + (byReceiver?.answers ?? 0)}`);
      await waitForMedia(receiver, sender, { picture: 'live', sound: 'audible' });
    }

    const quiet = await Promise.all([a.peer(b), b.peer(a)]);
    for (const [sender, receiver] of [
      [a, b],
      [b, a],
    ] as const) {
      await sender.mute(null);
      await waitForMedia(receiver, sender, { picture: 'black', sound: 'silent' });
      await sender.unmute(null);
      await waitForMedia(receiver, sender, { picture: 'live', sound: 'audible' });
    }
    // Muting disables tracks: nothing is renegotiated.
    expect(
      sentSince((await Promise.all([a.peer(b), b.peer(a)])) as PoolPeerStatus[], quiet as PoolPeerStatus[]),
    ).toEqual([
      { offers: 0, answers: 0 },
      { offers: 0, answers: 0 },
    ]);
    await annotate(phases.join(', '));
  });

  test('(c) both restart ICE during a burst of new tracks: one collision, at most 3 descriptions, new ICE credentials, a working channel', async ({
    annotate,
  }) => {
    const before = (await Promise.all([a.peer(b), b.peer(a)])) as PoolPeerStatus[];
    await Promise.all([a.hold(), b.hold()]);
    await Promise.all([a.burst(2, true), b.burst(2, true)]);
    await waitPair(
      a,
      b,
      (status, self) => status.sent.offers === (before[self === a ? 0 : 1]?.sent.offers ?? 0) + 1,
      'both sides to offer the restart (held)',
    );
    await Promise.all([a.release(), b.release()]);
    const after = await waitPair(
      a,
      b,
      (status, self) => {
        const was = before[self === a ? 0 : 1] as PoolPeerStatus;
        return (
          settledAndConnected(status) &&
          iceConnected(status) &&
          status.localUfrag !== was.localUfrag &&
          status.remoteUfrag !== was.remoteUfrag &&
          status.tracks.audio === was.tracks.audio + 1 &&
          status.tracks.video === was.tracks.video + 1
        );
      },
      'both stable and connected with new ICE credentials, each receiving the other two new tracks',
    );
    const [byA, byB] = sentSince(after, before);
    phases.push(`restart+burst ${(byA?.offers ?? 0) + (byA?.answers ?? 0) + (byB?.offers ?? 0) + (byB?.answers ?? 0)}`);
    expect(byA).toEqual({ offers: 1, answers: 0 });
    expect(byB).toEqual({ offers: 1, answers: 1 });
    for (const status of after) {
      expect(status.transceivers.negotiated).toBe(status.transceivers.total);
    }
    // The impolite side's restart offer was the one answered. Chromium's, answered by Firefox, loses what Chromium
    // sends from then on: the browsers' defect (docs/negotiation.md, "Chromium and Firefox"); only Firefox's way is asserted.
    if (!(first === 'chromium' && second === 'firefox')) await deliver(a, b, `from-${a.name}`, 'a→b after the restart');
    await deliver(b, a, `from-${a.name}`, 'b→a after the restart');
    await deliver(b, a, `from-${b.name}`, 'b→a on b after the restart');
    await annotate(phases.join(', '));
  });

  test('(e) a codec preference change is negotiated in one round, and the far side receives the preferred codec', async ({
    annotate,
  }) => {
    for (const [sender, receiver] of [
      [a, b],
      [b, a],
    ] as const) {
      // Since (c), Firefox receives nothing more from Chromium when Chromium's restart offer was the one answered (the
      // data channel that way is not asserted there either): only the negotiation is asserted that way.
      const flowing = !(sender === a && first === 'chromium' && second === 'firefox');
      if (flowing) await waitForMedia(receiver, sender, { picture: 'live', sound: 'audible' });
      // What the receiver decodes; where nothing arrives, what the receiver's last answer negotiated.
      const inUse = flowing
        ? await pollUntil(
            () => receiver.inboundVideoCodecs(sender),
            (codecs) => codecs.length > 0 && !codecs.includes('none'),
            `${receiver.name} to know the codec of ${sender.name}'s video`,
          )
        : await sender.answeredVideoCodecs(receiver);
      const preferred = await codecToPrefer(sender, receiver, inUse);
      if (!preferred)
        throw new Error(`no video codec but ${inUse.join(', ')} both ${sender.name} and ${receiver.name} have`);
      const before = (await Promise.all([sender.peer(receiver), receiver.peer(sender)])) as PoolPeerStatus[];
      // A preference orders what its side receives, and an answerer orders its answer by its own: the receiver drops
      // any it set (in the step before, on the same sendrecv sections) so that its answer follows the new offer.
      await receiver.clearCodecPreferences(sender);
      expect(await sender.preferCodec(receiver, preferred)).toBeGreaterThan(0);
      if (sender === b && first === 'chromium' && second === 'firefox') {
        // The session's payload types came from Chromium's offer. Firefox's offer after setCodecPreferences renumbers
        // them to its own defaults and Chromium refuses it (docs/negotiation.md, "Chromium and Firefox"): the refusal
        // is reported at Chromium's side, Firefox waits for an answer that will not come. Asserted as that defect.
        const refused = await pollUntil(
          () => receiver.status(),
          ({ errors }) => errors.length > 0,
          `${receiver.name} (Chromium) to refuse the renumbered offer`,
        );
        expect(refused.errors).toEqual([expect.stringMatching(/^remote-offer-rejected: .*codecs/i)]);
        const waiting = await sender.peer(receiver);
        expect(waiting?.sent).toEqual({ offers: (before[0]?.sent.offers ?? 0) + 1, answers: before[0]?.sent.answers });
        expect(waiting?.signalingState).toBe('have-local-offer');
        phases.push(`${sender.name} →${preferred} refused by Chromium (payload types renumbered)`);
        continue;
      }
      await waitPair(
        sender,
        receiver,
        (status, self) => {
          const was = before[self === sender ? 0 : 1] as PoolPeerStatus;
          const answered =
            self === sender ? status.sent.offers > was.sent.offers : status.sent.answers > was.sent.answers;
          return answered && settledAndConnected(status);
        },
        `${sender.name}'s offer preferring ${preferred} answered by ${receiver.name}, both stable and connected`,
      );
      expect(
        (await sender.answeredVideoCodecs(receiver)).every((codec) => sameCodec(codec, preferred)),
        `${receiver.name}'s answer puts ${preferred} first`,
      ).toBe(true);
      if (flowing) {
        await pollUntil(
          () => receiver.inboundVideoCodecs(sender),
          (codecs) => codecs.length === inUse.length && codecs.every((codec) => sameCodec(codec, preferred)),
          `${receiver.name} to receive ${sender.name}'s video as ${preferred} (was ${inUse.join(', ')})`,
        );
        await waitForMedia(receiver, sender, { picture: 'live', sound: 'audible' });
      }
      const after = await waitPair(sender, receiver, settledAndConnected, 'both stable and connected');
      const [bySender, byReceiver] = sentSince(after, before);
      const native = after.map(
        (status, i) => status.nativeNegotiationNeeded - (before[i]?.nativeNegotiationNeeded ?? 0),
      );
      phases.push(
        `${sender.name} ${[...new Set(inUse)].join('+')}→${preferred}${flowing ? '' : ' (negotiated only)'} ` +
          `${(bySender?.offers ?? 0) + (bySender?.answers ?? 0) + (byReceiver?.offers ?? 0) + (byReceiver?.answers ?? 0)}` +
          ` (browser negotiationneeded ${native.join('/')})`,
      );
      expect(bySender).toEqual({ offers: 1, answers: 0 });
      expect(byReceiver).toEqual({ offers: 0, answers: 1 });
    }
    await annotate(phases.join(', '));
  });

  test('(d) the first endpoint leaves and joins again with a new id: meshed again, 2 descriptions', async ({
    annotate,
  }) => {
    const oldId = a.id;
    await a.leave();
    await pollUntil(
      () => b.status(),
      ({ peers }) => peers.length === 0,
      `${b.name} to drop ${a.name}`,
    );
    // Back in the pool, now the later joiner: B (which opens a channel to every newcomer and shares its camera) offers.
    await a.join(pool, false);
    expect(a.id).not.toBe(oldId);
    const [ab, ba] = await waitPair(
      a,
      b,
      (status, self) =>
        settledAndConnected(status) &&
        (self === a
          ? status.remote[`from-${b.name}`] === 'open' && status.tracks.video >= 1
          : status.own[`from-${b.name}`] === 'open'),
      'meshed again: stable, connected, the channel open, the camera received',
    );
    expect(ab.polite).toBe(true);
    expect(ba.polite).toBe(false);
    expect(ab.sent).toEqual({ offers: 0, answers: 1 });
    expect(ba.sent).toEqual({ offers: 1, answers: 0 });
    phases.push(`rejoin ${sdp(ab) + sdp(ba)}`);
    await deliver(b, a, `from-${b.name}`, 'b→a after the rejoin');
    await deliver(a, b, `from-${b.name}`, 'a→b after the rejoin');
    await waitForMedia(a, b, { picture: 'live', sound: 'audible' });

    const statuses = await Promise.all([a.status(), b.status()]);
    // Chromium's refusal of Firefox's renumbered offer in (e) is the one error a mix may show.
    const refusal =
      first === 'chromium' && second === 'firefox' ? [expect.stringMatching(/^remote-offer-rejected: /)] : [];
    expect(statuses.map(({ errors }) => errors)).toEqual([refusal, []]);
    expect([...a.page.errors, ...b.page.errors]).toEqual([]);
    await annotate(phases.join(', '));
  });
});
