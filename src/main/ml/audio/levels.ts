/**
 * Collects decoded sound as it arrives, one channel block at a time: mixes it down to mono and keeps the
 * levels the data report needs (peak, loudness, clipping), so no decoder ever holds every channel of a long
 * file at once.
 */

/** A sample at or above this magnitude counts as full scale (for clipping). */
const FULL_SCALE = 0.999
/** This many full-scale samples in a row on one channel is clipping, not a loud peak that happens to touch 1. */
const CLIP_RUN = 3

export interface Levels {
  /** Largest |sample| over every channel, before mixing. 0 to 1 (can exceed 1 for float or lossy files). */
  peak: number
  /** Root-mean-square of the mono mix. */
  rms: number
  /** Share of samples (over every channel) that sit in runs of 3 or more at full scale. */
  clippedFraction: number
}

export class MonoCollector {
  private readonly blocks: Float32Array[] = []
  private frames = 0
  private peak = 0
  private sumSquares = 0
  private clipped = 0
  private samplesSeen = 0
  /** Per channel: length of the current run of full-scale samples. */
  private runs: number[] = []
  private maxFrames = Infinity

  /**
   * @param maxSeconds once the sample rate is known, a block that would take the sound past this long throws
   *   `tooLong()`, before it is copied.
   * @param tooLong builds the error to throw.
   */
  constructor(
    private readonly maxSeconds: number,
    private readonly tooLong: () => Error,
  ) {}

  get length(): number {
    return this.frames
  }

  /** Sets the rate the length limit is counted in; throws at once when `totalFrames` (if known) is over it. */
  setSampleRate(rate: number, totalFrames?: number): void {
    this.maxFrames = Math.floor(this.maxSeconds * rate)
    if (totalFrames !== undefined && totalFrames > this.maxFrames) throw this.tooLong()
  }

  /** Adds planar channel data (each channel `frames` long, or longer: the rest is ignored). */
  addPlanar(channels: readonly Float32Array[], frames: number): void {
    if (frames <= 0 || channels.length === 0) return
    this.ensureRoom(frames)
    const n = channels.length
    const mono = new Float32Array(frames)
    for (let c = 0; c < n; c++) {
      const ch = channels[c]
      let run = this.runs[c] ?? 0
      for (let i = 0; i < frames; i++) {
        const x = ch[i]
        mono[i] += x
        const a = x < 0 ? -x : x
        if (a > this.peak) this.peak = a
        if (a >= FULL_SCALE) {
          run++
          if (run === CLIP_RUN) this.clipped += CLIP_RUN
          else if (run > CLIP_RUN) this.clipped++
        } else {
          run = 0
        }
      }
      this.runs[c] = run
    }
    if (n > 1) for (let i = 0; i < frames; i++) mono[i] /= n
    this.push(mono, n)
  }

  /** Adds interleaved frames read by `sample(frame, channel)`; used by the WAV reader to avoid planar copies. */
  addInterleaved(frames: number, channels: number, sample: (frame: number, channel: number) => number): void {
    if (frames <= 0) return
    this.ensureRoom(frames)
    const mono = new Float32Array(frames)
    const runs = this.runs
    for (let c = 0; c < channels; c++) runs[c] ??= 0
    for (let i = 0; i < frames; i++) {
      let sum = 0
      for (let c = 0; c < channels; c++) {
        const x = sample(i, c)
        sum += x
        const a = x < 0 ? -x : x
        if (a > this.peak) this.peak = a
        if (a >= FULL_SCALE) {
          const run = ++runs[c]
          if (run === CLIP_RUN) this.clipped += CLIP_RUN
          else if (run > CLIP_RUN) this.clipped++
        } else {
          runs[c] = 0
        }
      }
      mono[i] = sum / channels
    }
    this.push(mono, channels)
  }

  private ensureRoom(frames: number): void {
    if (this.frames + frames > this.maxFrames) throw this.tooLong()
  }

  private push(mono: Float32Array, channels: number): void {
    for (let i = 0; i < mono.length; i++) this.sumSquares += mono[i] * mono[i]
    this.blocks.push(mono)
    this.frames += mono.length
    this.samplesSeen += mono.length * channels
  }

  /** The mono signal and its levels. */
  finish(): { samples: Float32Array; levels: Levels } {
    const samples = new Float32Array(this.frames)
    let o = 0
    for (const b of this.blocks) {
      samples.set(b, o)
      o += b.length
    }
    this.blocks.length = 0
    return {
      samples,
      levels: {
        peak: this.peak,
        rms: this.frames > 0 ? Math.sqrt(this.sumSquares / this.frames) : 0,
        clippedFraction: this.samplesSeen > 0 ? this.clipped / this.samplesSeen : 0,
      },
    }
  }
}
