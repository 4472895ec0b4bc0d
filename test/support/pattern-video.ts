import wrtc from '@roamhq/wrtc';
import { FRAME_SIZE, Recent } from './generated-media.js';

const FRAME_INTERVAL_MS = 50;

/** The luma (0..255) of the top and of the bottom half of a frame. */
export interface Halves {
  top: number;
  bottom: number;
}

/**
 * A video track from wrtc's nonstandard `RTCVideoSource` whose every frame is
 * the same recognisable picture: the top half one flat luma, the bottom half
 * another (equal for a solid picture), no colour. Flat areas survive VP8 with
 * a luma error of a unit or two, so the far side can tell which source it is
 * decoding. Call {@link stop} when done.
 */
export class PatternVideo {
  readonly track: MediaStreamTrack;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly halves: Halves) {
    const source = new wrtc.nonstandard.RTCVideoSource();
    this.track = source.createTrack();
    const { width, height } = FRAME_SIZE;
    // I420: a full-size luma plane, then two quarter-size chroma planes (128: no colour).
    const data = new Uint8Array(width * height * 1.5).fill(128);
    data.fill(halves.top, 0, (width * height) / 2);
    data.fill(halves.bottom, (width * height) / 2, width * height);
    const frame = { width, height, data };
    source.onFrame(frame);
    this.#timer = setInterval(() => source.onFrame(frame), FRAME_INTERVAL_MS);
  }

  /** Stops feeding and ends the track. Idempotent. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.track.readyState !== 'ended') this.track.stop();
  }
}

interface VideoFrameData {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Mean luma of rows [from, to) of a frame's luma plane. */
function meanLuma({ width, data }: VideoFrameData, from: number, to: number): number {
  let sum = 0;
  for (let i = from * width; i < to * width; i++) sum += data[i] as number;
  return sum / ((to - from) * width);
}

/**
 * Decodes a received wrtc video track with wrtc's `RTCVideoSink` and keeps,
 * per frame, the mean luma of its top and bottom halves (a band of rows
 * around the middle left out, where the codec blurs the edge). The decoded
 * size is read from each frame: libwebrtc may scale down under load.
 */
export class HalvesProbe {
  readonly frames = new Recent<Halves>(64);
  /** The last frame's halves, and the first frame's. */
  latest: Halves | undefined;
  earliest: Halves | undefined;
  readonly #sink: InstanceType<typeof wrtc.nonstandard.RTCVideoSink>;

  constructor(readonly track: MediaStreamTrack) {
    this.#sink = new wrtc.nonstandard.RTCVideoSink(track);
    (this.#sink as unknown as { onframe: (event: { frame: VideoFrameData }) => void }).onframe = ({ frame }) => {
      const middle = Math.floor(frame.height / 2);
      const band = Math.max(1, Math.floor(frame.height / 8));
      this.latest = {
        top: meanLuma(frame, 0, middle - band),
        bottom: meanLuma(frame, middle + band, frame.height),
      };
      this.earliest ??= this.latest;
      this.frames.push(this.latest);
    };
  }

  /** Whether the last `n` frames since `since` (an earlier `frames.count`) all show `halves`, within `tolerance`. */
  shows(halves: Halves, n: number, since = 0, tolerance = 12): boolean {
    return this.frames.lastAll(
      n,
      ({ top, bottom }) => Math.abs(top - halves.top) <= tolerance && Math.abs(bottom - halves.bottom) <= tolerance,
      since,
    );
  }

  stop(): void {
    if (!this.#sink.stopped) this.#sink.stop();
  }
}
