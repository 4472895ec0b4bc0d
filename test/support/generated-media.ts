import wrtc from '@roamhq/wrtc';

/** Small enough that three encoders per sender stay cheap on a 2-core machine. */
export const FRAME_SIZE = { width: 160, height: 120 } as const;
const FRAME_INTERVAL_MS = 50;
/** libwebrtc's audio sources take 10 ms chunks. */
const AUDIO_CHUNK = { sampleRate: 48_000, numberOfFrames: 480, intervalMs: 10 } as const;

/**
 * An audio and a video track made with wrtc's nonstandard sources, fed on
 * timers: every frame is fresh pseudo-random grey noise (luma 48..207, the
 * same sequence every run), so it is far from black and never cheap to
 * encode; the audio is a 1.5 kHz tone. Call {@link stop} when done.
 */
export class GeneratedMedia {
  readonly audioTrack: MediaStreamTrack;
  readonly videoTrack: MediaStreamTrack;
  readonly stream: MediaStream;
  readonly #timers: ReturnType<typeof setInterval>[] = [];

  constructor() {
    const video = new wrtc.nonstandard.RTCVideoSource();
    const audio = new wrtc.nonstandard.RTCAudioSource();
    this.videoTrack = video.createTrack();
    this.audioTrack = audio.createTrack();
    this.stream = new wrtc.MediaStream([this.audioTrack, this.videoTrack]);

    const { width, height } = FRAME_SIZE;
    // I420: a full-size luma plane, then two quarter-size chroma planes (128: no colour).
    const data = new Uint8Array(width * height * 1.5).fill(128);
    let seed = 0x2545f491;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    this.#timers.push(
      setInterval(() => {
        for (let i = 0; i < width * height; i++) data[i] = 48 + (next() % 160);
        video.onFrame({ width, height, data });
      }, FRAME_INTERVAL_MS),
    );

    const samples = new Int16Array(AUDIO_CHUNK.numberOfFrames).map((_, i) =>
      Math.round(8_000 * Math.sin((2 * Math.PI * 1_500 * i) / AUDIO_CHUNK.sampleRate)),
    );
    this.#timers.push(
      setInterval(
        () =>
          audio.onData({
            samples,
            sampleRate: AUDIO_CHUNK.sampleRate,
            bitsPerSample: 16,
            channelCount: 1,
            numberOfFrames: AUDIO_CHUNK.numberOfFrames,
          }),
        AUDIO_CHUNK.intervalMs,
      ),
    );
  }

  /** Stops feeding and ends both tracks. Idempotent. */
  stop(): void {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    for (const track of [this.audioTrack, this.videoTrack]) if (track.readyState !== 'ended') track.stop();
  }
}

/** The last `capacity` values of something measured over and over. */
export class Recent<T> {
  readonly #values: T[] = [];
  count = 0;
  constructor(readonly capacity = 32) {}

  push(value: T): void {
    this.count += 1;
    this.#values.push(value);
    if (this.#values.length > this.capacity) this.#values.shift();
  }

  /** Whether `n` values arrived after `since` (an earlier {@link count}) and the last `n` all satisfy `predicate`. */
  lastAll(n: number, predicate: (value: T) => boolean, since = 0): boolean {
    return this.#window(n, since)?.every(predicate) ?? false;
  }

  /** Whether `n` values arrived after `since` and one of the last `n` satisfies `predicate`. */
  lastSome(n: number, predicate: (value: T) => boolean, since = 0): boolean {
    return this.#window(n, since)?.some(predicate) ?? false;
  }

  #window(n: number, since: number): T[] | undefined {
    return this.count - since >= n && this.#values.length >= n ? this.#values.slice(-n) : undefined;
  }
}

/** The luma plane of one decoded frame, summarized. */
export interface Luma {
  width: number;
  height: number;
  mean: number;
  /** Brightest minus darkest sample. */
  spread: number;
}

/**
 * A disabled video track is sent as black frames: luma all 0 (full range) or
 * 16 (limited range), and uniform. Decoding adds no noise to a flat image,
 * but a small tolerance keeps this about black, not about codecs.
 */
export const isBlack = (luma: Luma) => luma.mean <= 20 && luma.spread <= 8;
/** The generated noise decodes to mid grey (about 128), whatever the encoder keeps of it. */
export const isPicture = (luma: Luma) => luma.mean >= 60 && !isBlack(luma);

/** Decodes a received wrtc video track with wrtc's `RTCVideoSink` and keeps each frame's luma summary. */
export class VideoProbe {
  readonly frames = new Recent<Luma>();
  readonly #sink: InstanceType<typeof wrtc.nonstandard.RTCVideoSink>;

  constructor(track: MediaStreamTrack) {
    this.#sink = new wrtc.nonstandard.RTCVideoSink(track);
    (this.#sink as unknown as { onframe: (event: { frame: VideoFrameData }) => void }).onframe = ({ frame }) =>
      this.frames.push(lumaOf(frame));
  }

  stop(): void {
    if (!this.#sink.stopped) this.#sink.stop();
  }
}

interface VideoFrameData {
  width: number;
  height: number;
  data: Uint8Array;
}

function lumaOf({ width, height, data }: VideoFrameData): Luma {
  let sum = 0;
  let min = 255;
  let max = 0;
  const size = width * height;
  for (let i = 0; i < size; i++) {
    const y = data[i] as number;
    sum += y;
    if (y < min) min = y;
    if (y > max) max = y;
  }
  return { width, height, mean: sum / size, spread: max - min };
}

/** Plays a received wrtc audio track into wrtc's `RTCAudioSink` and keeps each 10 ms chunk's peak amplitude. */
export class AudioProbe {
  readonly peaks = new Recent<number>(64);
  readonly #sink: InstanceType<typeof wrtc.nonstandard.RTCAudioSink>;

  constructor(track: MediaStreamTrack) {
    this.#sink = new wrtc.nonstandard.RTCAudioSink(track);
    (this.#sink as unknown as { ondata: (data: { samples: Int16Array }) => void }).ondata = ({ samples }) => {
      let peak = 0;
      for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
      this.peaks.push(peak);
    };
  }

  stop(): void {
    if (!this.#sink.stopped) this.#sink.stop();
  }
}

/** A werift remote track: it decodes nothing, but hands over every RTP packet. */
export interface WeriftTrackLike {
  readonly kind: string;
  readonly onReceiveRtp: {
    subscribe(listener: (packet: { payload: Uint8Array }) => void): { unSubscribe(): void };
  };
}

/**
 * Keeps the payload size of each RTP packet a werift track receives. werift
 * has no decoder, so muting is seen in the encoded stream: libwebrtc's Opus
 * encodes digital silence as 3-byte frames (a tone: about 80 bytes), and its
 * VP8 encoder turns a black frame into a packet of a few dozen bytes, where a
 * frame of noise fills packets of about a kilobyte.
 */
export class RtpProbe {
  readonly payloads = new Recent<number>(64);
  readonly #subscription: { unSubscribe(): void };

  constructor(track: WeriftTrackLike) {
    this.#subscription = track.onReceiveRtp.subscribe((packet) => this.payloads.push(packet.payload.length));
  }

  stop(): void {
    this.#subscription.unSubscribe();
  }
}
