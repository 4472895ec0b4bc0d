// @ts-check
/**
 * The Media card: the local camera shared with the whole pool through
 * `media.ManagedStream`, and one tile per remote peer whose picture arrives.
 *
 * Sharing the screen swaps the video that every peer receives, present and
 * later, for the screen (`ManagedStream.replaceTrack`, `RTCRtpSender.replaceTrack`
 * underneath): no renegotiation, the far side's track and tile stay the same
 * and show the new picture. Stopping it (the button again, or the browser's
 * own "Stop sharing", which ends the track) swaps the camera's video back.
 * The screen stands in for the camera's picture, so the button is enabled
 * only while the camera is on.
 *
 * Muting (ManagedStream.mute) only disables the local track: the far side
 * keeps receiving, but black frames (and silence). So "is this peer's video
 * live?" is measured at the far side: frames must be arriving
 * (requestVideoFrameCallback) and they must not be black (a tiny canvas
 * sample of the picture). Sound is measured likewise with an AnalyserNode.
 */
import { h, hueOf } from './dom.js';
import { media } from './lib.js';

/** How often each tile is sampled, in ms. */
const SAMPLE_MS = 500;
/** Samples a verdict looks back over: a muted sender still sends about one black frame a second. */
const WINDOW = 3;
/** Brightest pixel (0-255 luma) of a frame below which it counts as black: the sender disabled its track. */
const BLACK_LUMA = 24;
/** Whether this browser reports each presented frame (Chromium, Safari, Firefox 132+). */
const FRAME_CALLBACKS = 'requestVideoFrameCallback' in HTMLVideoElement.prototype;

/** Peak level (0-1) above which a peer counts as audible; a muted sender sends digital silence. */
const AUDIBLE_PEAK = 0.01;

/** Whether this browser can capture the screen (not on most phones). */
const CAN_SHARE_SCREEN = typeof navigator.mediaDevices?.getDisplayMedia === 'function';
/** Wider than this (width / height), a picture is shown whole in its tile rather than cropped to it: a screen. */
const WIDE = 1.5;

/**
 * @typedef {object} RemoteTile
 * @property {string} peerId
 * @property {HTMLElement} element
 * @property {HTMLVideoElement} video
 * @property {HTMLElement} name
 * @property {HTMLElement} fps
 * @property {HTMLElement} overlay
 * @property {HTMLElement} level
 * @property {MediaStream | null} stream
 * @property {number} frames frames presented since the last sample
 * @property {number[]} recentFrames frames per sample, newest last
 * @property {number} lastTotal for browsers without requestVideoFrameCallback: the decoder's frame count
 * @property {AnalyserNode | null} analyser
 * @property {Float32Array<ArrayBuffer>} samples the analyser's last samples
 * @property {number[]} recentLevels
 */

export class MediaPanel {
  /**
   * @param {object} options
   * @param {HTMLElement} options.tiles where the video tiles go
   * @param {HTMLButtonElement} options.camera
   * @param {HTMLButtonElement} options.muteAudio
   * @param {HTMLButtonElement} options.muteVideo
   * @param {HTMLButtonElement} options.screen
   * @param {(peerId: string) => string} options.nameOf
   * @param {() => string} options.selfName
   * @param {(error: import('./notices.js').ErrorEntry) => void} options.onError
   * @param {(message: string) => void} options.onNotice
   */
  constructor({ tiles, camera, muteAudio, muteVideo, screen, nameOf, selfName, onError, onNotice }) {
    this.tiles = tiles;
    this.buttons = { camera, muteAudio, muteVideo, screen };
    this.nameOf = nameOf;
    this.selfName = selfName;
    this.onError = onError;
    this.onNotice = onNotice;
    /**
     * What is sent, while the camera is on (it survives leaving and joining again): the microphone, and the
     * camera's video or the screen in its place.
     *
     * @type {MediaStream | null}
     */
    this.local = null;
    /** The screen, while it is sent instead of the camera's picture. @type {MediaStreamTrack | null} */
    this.screen = null;
    /** The camera's video track, kept aside while the screen is sent in its place. @type {MediaStreamTrack | null} */
    this.cameraVideo = null;
    /** The browser's screen picker is open. */
    this.choosingScreen = false;
    /** @type {HTMLElement | null} */
    this.localTile = null;
    /** @type {import('./lib.js').PoolInstance | null} */
    this.pool = null;
    /** The local stream as shared with the current pool. @type {import('./lib.js').ManagedStream | null} */
    this.shared = null;
    /** @type {Map<string, RemoteTile>} */
    this.remote = new Map();
    /** @type {AudioContext | null} */
    this.audio = null;
    this.canvas = document.createElement('canvas');
    this.canvas.width = 32;
    this.canvas.height = 18;
    this.context = this.canvas.getContext('2d', { willReadFrequently: true });
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;

    camera.addEventListener('click', () => this.toggleCamera());
    muteAudio.addEventListener('click', () => this.toggleMute('audio'));
    muteVideo.addEventListener('click', () => this.toggleMute('video'));
    screen.addEventListener('click', () => this.toggleScreen());
    this.#updateButtons();
  }

  /**
   * Called from a click: browsers let an AudioContext run (for the sound
   * meters) only after a user gesture.
   */
  unlockAudio() {
    // Without a gesture (?autojoin=1) the context would only start suspended, with a console warning.
    if (navigator.userActivation && !navigator.userActivation.isActive) return;
    this.audio ??= new AudioContext();
    if (this.audio.state === 'suspended') this.audio.resume().catch(() => {});
  }

  /** @param {import('./lib.js').PoolInstance} pool a pool just created: the camera, if on, goes to all its peers */
  attach(pool) {
    this.pool = pool;
    if (this.local) this.#share();
  }

  /** The pool ended (its ManagedStream closed with it): the remote tiles go. */
  detach() {
    this.pool = null;
    this.shared = null;
    for (const peerId of [...this.remote.keys()]) this.removePeer(peerId);
  }

  async toggleCamera() {
    if (this.local) return this.stopCamera();
    const { camera } = this.buttons;
    camera.disabled = true;
    this.unlockAudio();
    try {
      this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (error) {
      this.onError({ code: 'camera', message: `camera or microphone unavailable: ${messageOf(error)}` });
      return;
    } finally {
      camera.disabled = false;
    }
    for (const track of this.local.getTracks()) track.addEventListener('ended', () => this.#trackEnded());
    this.#showLocal(this.local);
    if (this.pool) this.#share();
    this.#updateButtons();
  }

  stopCamera() {
    // Closing the ManagedStream removes the tracks from every connection (one renegotiation each).
    this.shared?.close();
    this.shared = null;
    for (const track of [...(this.local?.getTracks() ?? []), this.cameraVideo, this.screen]) track?.stop();
    this.local = null;
    this.screen = null;
    this.cameraVideo = null;
    this.localTile?.remove();
    this.localTile = null;
    this.#updateButtons();
  }

  /**
   * Sends the screen instead of the camera's picture, or the camera's picture again. Called from a click:
   * browsers let a page capture the screen only on a user gesture.
   */
  async toggleScreen() {
    if (this.screen) return this.stopScreen();
    const cameraVideo = this.local?.getVideoTracks()[0];
    if (!cameraVideo || this.choosingScreen || !CAN_SHARE_SCREEN) return;
    this.choosingScreen = true;
    this.#updateButtons();
    /** @type {MediaStreamTrack | undefined} */
    let screen;
    try {
      const display = await navigator.mediaDevices.getDisplayMedia({ video: true });
      screen = display.getVideoTracks()[0];
    } catch (error) {
      // Cancelling the browser's picker (or refusing the permission) is a choice, not a failure.
      if (error instanceof DOMException && (error.name === 'NotAllowedError' || error.name === 'AbortError'))
        this.onNotice('Screen sharing cancelled: your camera is still being sent.');
      else this.onError({ code: 'screen', message: `screen capture unavailable: ${messageOf(error)}` });
      return;
    } finally {
      this.choosingScreen = false;
      this.#updateButtons();
    }
    if (!screen) return;
    if (!this.local?.getTracks().includes(cameraVideo)) {
      // The camera was stopped while the picker was open.
      screen.stop();
      return;
    }
    // A screen's text should stay sharp: under load the encoder drops frames rather than resolution.
    screen.contentHint = 'detail';
    this.screen = screen;
    this.cameraVideo = cameraVideo;
    // The browser's own "Stop sharing" ends the track: the camera's picture comes back.
    screen.addEventListener('ended', () => this.stopScreen(screen), { once: true });
    if (await this.#sendVideo(screen)) return;
    // Not switched (reported): the camera's picture is still what is sent.
    if (this.screen === screen) {
      this.screen = null;
      this.cameraVideo = null;
      this.#updateButtons();
    }
    screen.stop();
  }

  /**
   * Sends the camera's picture again instead of the screen, and stops the screen capture.
   *
   * @param {MediaStreamTrack | null} [which] only if this is still the screen being sent
   */
  async stopScreen(which = this.screen) {
    const { screen, cameraVideo } = this;
    if (!screen || screen !== which) return;
    this.screen = null;
    this.cameraVideo = null;
    if (cameraVideo) await this.#sendVideo(cameraVideo);
    screen.stop();
  }

  /**
   * Puts `track` in place of the video being sent, to every peer, without renegotiating.
   *
   * @param {MediaStreamTrack} track
   * @returns {Promise<boolean>} whether it was switched (a failure is reported)
   */
  async #sendVideo(track) {
    const shared = this.shared && !this.shared.closed ? this.shared : null;
    try {
      // Swaps the track in `this.local` as well, so the preview shows what is sent; carries the muted state over.
      if (shared) await shared.replaceTrack('video', track);
      else if (this.local) {
        // Not in a pool: nothing sends the stream yet, so it is changed directly (ManagedStream does the same).
        for (const old of this.local.getVideoTracks()) {
          track.enabled = old.enabled;
          this.local.removeTrack(old);
        }
        this.local.addTrack(track);
      }
      return true;
    } catch (error) {
      this.onError({ code: 'screen', message: `could not switch the video: ${messageOf(error)}` });
      return false;
    } finally {
      this.#updateButtons();
    }
  }

  /** @param {'audio' | 'video'} kind */
  toggleMute(kind) {
    const muted = this.#muted(kind);
    if (this.shared && !this.shared.closed) {
      if (muted) this.shared.unmute(kind);
      else this.shared.mute(kind);
    } else {
      // Not in a pool: nothing shares the stream yet, so the tracks are switched directly (ManagedStream does the same).
      for (const track of this.local?.getTracks() ?? []) if (track.kind === kind) track.enabled = muted;
    }
    this.#updateButtons();
  }

  /**
   * A remote track arrived (the pool's `track` event).
   *
   * @param {import('./lib.js').ManagedConnection} connection
   * @param {MediaStreamTrack} mediaTrack
   * @param {readonly MediaStream[]} streams
   */
  addTrack(connection, mediaTrack, streams) {
    const tile = this.remote.get(connection.id) ?? this.#remoteTile(connection.id);
    // ManagedStream sends every track with its stream, so a peer's audio and video arrive in one stream.
    const stream = streams[0] ?? tile.stream ?? new MediaStream();
    if (!stream.getTracks().includes(mediaTrack)) stream.addTrack(mediaTrack);
    if (tile.stream !== stream) this.#play(tile, stream);
    else if (mediaTrack.kind === 'audio') this.#listen(tile, stream);
  }

  /** @param {string} peerId */
  rename(peerId) {
    const tile = this.remote.get(peerId);
    if (tile) tile.name.textContent = this.nameOf(peerId);
  }

  renameSelf() {
    const name = this.localTile?.querySelector('.name');
    if (name) name.textContent = `${this.selfName()} (you)`;
  }

  /** @param {string} peerId */
  removePeer(peerId) {
    const tile = this.remote.get(peerId);
    if (!tile) return;
    tile.element.remove();
    tile.analyser?.disconnect();
    this.remote.delete(peerId);
    if (this.remote.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Every local track ended (camera unplugged, permission revoked): as if the camera were stopped. */
  #trackEnded() {
    if (this.local?.getTracks().every((track) => track.readyState === 'ended')) this.stopCamera();
  }

  #share() {
    if (!this.local || !this.pool) return;
    const shared = new media.ManagedStream(this.local, this.pool);
    shared.addEventListener('close', () => {
      if (this.shared === shared) this.shared = null;
    });
    this.shared = shared;
  }

  /** @param {'audio' | 'video'} kind */
  #muted(kind) {
    const tracks = this.local?.getTracks().filter((track) => track.kind === kind) ?? [];
    return tracks.length > 0 && tracks.every((track) => !track.enabled);
  }

  #updateButtons() {
    const { camera, muteAudio, muteVideo, screen } = this.buttons;
    const on = this.local !== null;
    const sharing = this.screen !== null;
    screen.disabled = !on || this.choosingScreen || !CAN_SHARE_SCREEN;
    screen.textContent = sharing ? 'Stop sharing screen' : 'Share screen';
    screen.setAttribute('aria-pressed', String(sharing));
    screen.title = !CAN_SHARE_SCREEN
      ? 'This browser cannot share the screen'
      : on
        ? 'Send your screen instead of the camera picture (swapped without renegotiating)'
        : 'Start the camera first: the screen is sent in place of its picture';
    camera.textContent = on ? 'Stop camera' : 'Start camera';
    camera.setAttribute('aria-pressed', String(on));
    for (const [button, kind, label] of /** @type {const} */ ([
      [muteAudio, 'audio', 'audio'],
      [muteVideo, 'video', 'video'],
    ])) {
      const muted = this.#muted(kind);
      button.disabled = !on;
      button.textContent = muted ? `Unmute ${label}` : `Mute ${label}`;
      button.setAttribute('aria-pressed', String(muted));
    }
    if (this.localTile) {
      this.localTile.dataset.audioMuted = String(this.#muted('audio'));
      this.localTile.dataset.videoMuted = String(this.#muted('video'));
      this.localTile.dataset.source = sharing ? 'screen' : 'camera';
      // The camera preview is a mirror; a screen is not.
      this.localTile.querySelector('video')?.classList.toggle('mirror', !sharing);
    }
  }

  /** @param {MediaStream} stream */
  #showLocal(stream) {
    const video = h('video', { autoplay: true, playsinline: true, class: 'mirror' });
    video.muted = true; // our own microphone must not play back
    video.srcObject = stream;
    this.localTile = h(
      'figure',
      { class: 'tile local', dataset: { testid: 'local-video', source: 'camera' } },
      video,
      h('div', { class: 'overlay', text: 'video muted' }),
      h(
        'figcaption',
        {},
        h('span', { class: 'name', text: `${this.selfName()} (you)` }),
        h('span', { class: 'badge screen-on', text: 'screen' }),
        h('span', { class: 'badge audio-off', text: 'mic off' }),
      ),
    );
    this.tiles.prepend(this.localTile);
    video.play().catch(() => {});
  }

  /** @param {string} peerId */
  #remoteTile(peerId) {
    const video = h('video', { autoplay: true, playsinline: true });
    const name = h('span', { class: 'name', text: this.nameOf(peerId) });
    const fps = h('span', { class: 'fps' });
    const level = h('span', { class: 'level', title: 'sound level' });
    const overlay = h('div', { class: 'overlay', text: 'waiting for the picture…' });
    const element = h(
      'figure',
      {
        class: 'tile remote',
        dataset: { testid: 'remote-video', peerId, receiving: 'false' },
        style: `--peer-hue: ${hueOf(peerId)}`,
      },
      video,
      overlay,
      h('figcaption', {}, h('span', { class: 'dot' }), name, fps, h('span', { class: 'meter' }, level)),
    );
    /** @type {RemoteTile} */
    const tile = {
      peerId,
      element,
      video,
      name,
      fps,
      overlay,
      level,
      stream: null,
      frames: 0,
      recentFrames: [],
      lastTotal: 0,
      analyser: null,
      samples: new Float32Array(0),
      recentLevels: [],
    };
    // A screen is shown whole, a camera fills its tile.
    video.addEventListener('resize', () => {
      element.dataset.videoSize = `${video.videoWidth}x${video.videoHeight}`;
      element.classList.toggle('wide', video.videoWidth > WIDE * video.videoHeight);
    });
    this.remote.set(peerId, tile);
    this.tiles.append(element);
    this.#countFrames(tile);
    this.timer ??= setInterval(() => {
      for (const each of this.remote.values()) this.#sample(each);
    }, SAMPLE_MS);
    return tile;
  }

  /**
   * @param {RemoteTile} tile
   * @param {MediaStream} stream
   */
  #play(tile, stream) {
    tile.stream = stream;
    tile.video.srcObject = stream;
    stream.addEventListener('removetrack', () => {
      // The peer stopped its camera (ManagedStream.close removed its tracks).
      if (tile.stream === stream && stream.getTracks().length === 0) this.removePeer(tile.peerId);
    });
    tile.video.play().catch(() => {
      // No user gesture yet (?autojoin=1): browsers only autoplay muted. One click on the tile brings the sound.
      tile.video.muted = true;
      tile.element.classList.add('silenced');
      tile.element.title = 'Click to hear this peer';
      tile.element.addEventListener(
        'click',
        () => {
          tile.video.muted = false;
          tile.element.classList.remove('silenced');
          tile.element.title = '';
          this.audio?.resume();
        },
        { once: true },
      );
      tile.video.play().catch(() => {});
    });
    this.#listen(tile, stream);
  }

  /**
   * Counts presented frames with requestVideoFrameCallback, where the browser has it.
   *
   * @param {RemoteTile} tile
   */
  #countFrames(tile) {
    const { video } = tile;
    if (!FRAME_CALLBACKS) return;
    const onFrame = () => {
      tile.frames++;
      if (this.remote.get(tile.peerId) === tile) video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  /**
   * A level meter on the peer's sound (the stream also plays in the video element).
   *
   * @param {RemoteTile} tile
   * @param {MediaStream} stream
   */
  #listen(tile, stream) {
    if (tile.analyser || stream.getAudioTracks().length === 0) return;
    // Without a gesture yet the context starts suspended (the meter reads 0) until unlockAudio resumes it.
    this.audio ??= new AudioContext();
    const analyser = this.audio.createAnalyser();
    // The largest window (about 0.7 s at 48 kHz): sampled twice a second, no sound is missed between samples.
    analyser.fftSize = 32768;
    this.audio.createMediaStreamSource(stream).connect(analyser);
    tile.analyser = analyser;
    tile.samples = new Float32Array(analyser.fftSize);
  }

  /**
   * Decides whether the peer's picture is live: frames arriving and not black.
   *
   * @param {RemoteTile} tile
   */
  #sample(tile) {
    const { video, element } = tile;
    let frames = tile.frames;
    tile.frames = 0;
    if (!FRAME_CALLBACKS) {
      const total = video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
      frames = Math.max(0, total - tile.lastTotal);
      tile.lastTotal = total;
    }
    tile.recentFrames = [...tile.recentFrames, frames].slice(-WINDOW);
    const arriving = tile.recentFrames.some((count) => count > 0);
    const brightest = this.#brightness(video);
    const receiving = arriving && brightest >= BLACK_LUMA;
    element.dataset.receiving = String(receiving);
    element.dataset.picture = !arriving ? 'none' : receiving ? 'live' : 'black';
    const fps =
      (tile.recentFrames.reduce((sum, count) => sum + count, 0) * 1000) / (SAMPLE_MS * tile.recentFrames.length);
    tile.fps.textContent = receiving ? `${Math.round(fps)} fps` : arriving ? 'black frames' : 'no frames';
    tile.overlay.textContent = arriving ? 'video muted' : 'no picture';

    const level = this.#level(tile);
    tile.recentLevels = [...tile.recentLevels, level].slice(-WINDOW);
    element.dataset.audible = String(tile.recentLevels.some((value) => value > AUDIBLE_PEAK));
    tile.level.style.setProperty('--level', String(Math.min(1, level * 2)));
  }

  /**
   * The brightest pixel of the current frame, drawn small (0-255 luma).
   *
   * @param {HTMLVideoElement} video
   */
  #brightness(video) {
    const { context, canvas } = this;
    if (!context || video.readyState < 2 || video.videoWidth === 0) return 0;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let max = 0;
    for (let i = 0; i < data.length; i += 4) {
      const luma = 0.2126 * (data[i] ?? 0) + 0.7152 * (data[i + 1] ?? 0) + 0.0722 * (data[i + 2] ?? 0);
      if (luma > max) max = luma;
    }
    return max;
  }

  /**
   * The sound's peak level over the analyser's window (0-1), or 0 without a meter.
   *
   * @param {RemoteTile} tile
   */
  #level(tile) {
    if (!tile.analyser) return 0;
    tile.analyser.getFloatTimeDomainData(tile.samples);
    let peak = 0;
    for (const sample of tile.samples) peak = Math.max(peak, Math.abs(sample));
    return peak;
  }
}

/** @param {unknown} error */
function messageOf(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
