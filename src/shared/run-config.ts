/**
 * The one source of a run's settings. Every setting is one entry of `runFields`: its label, a plain
 * one-line help, its default, its limits and unit. From this table come the zod schema that main
 * checks every payload with, `RunConfig` (inferred), the defaults, the wizard's fields and their
 * validation, the CLI's help and the README's settings table. Pure TypeScript + zod.
 *
 * To add a setting: add one entry here (with `group` so the wizard shows it), then use
 * `config.<path>` where the engine needs it. See README "Adding a setting".
 */
import { z } from 'zod'
// run-rules imports only types from this file, so this runtime import makes no cycle.
import { configConflicts } from './run-rules'

/** Where a field is shown in the wizard (each group is a panel of one step). */
export type FieldGroup =
  | 'run'
  | 'split'
  | 'freeze'
  | 'head'
  | 'optimiser'
  | 'schedule'
  | 'length'
  | 'early-stopping'
  | 'loss'
  | 'phase2'
  | 'adapters'
  | 'augment'
  | 'sound'

/** A field is shown only when another field has one of the given values. */
export interface FieldCondition {
  path: string
  in: readonly (string | number | boolean)[]
}

interface FieldBase<V> {
  label: string
  /** One plain sentence for people who never heard the term. */
  help: string
  default: V
  group: FieldGroup
  /** Shown only when this holds (e.g. momentum only for the momentum optimiser). */
  visibleWhen?: FieldCondition
  /** Greyed out (value kept) unless this holds. */
  enabledWhen?: FieldCondition
  /** Why it is greyed out, in one sentence. */
  disabledReason?: string
  /** Not offered as a wizard field (set elsewhere, e.g. by the split sliders or the layer list). */
  custom?: boolean
}

export interface NumberFieldSpec extends FieldBase<number> {
  kind: 'number'
  min: number
  max: number
  /** True when `min` itself is not allowed (a learning rate of 0 does nothing). */
  minExclusive?: boolean
  integer?: boolean
  /** Step of the UI's arrows; for logarithmic settings it is a factor. */
  step: number
  /** Unit shown after the value ("epochs", "images"); empty for plain numbers. */
  unit: string
  /** What a message calls the value: "Enter a learning rate between …". */
  noun: string
}

export interface ChoiceFieldSpec<T extends string = string> extends FieldBase<T> {
  kind: 'choice'
  options: readonly { value: T; label: string }[]
}

export interface BooleanFieldSpec extends FieldBase<boolean> {
  kind: 'boolean'
}

export interface TextFieldSpec extends FieldBase<string> {
  kind: 'text'
  maxLength: number
}

export interface IntListFieldSpec extends FieldBase<number[]> {
  kind: 'int-list'
  min: number
  max: number
  maxItems: number
}

export interface NameListFieldSpec extends FieldBase<string[]> {
  kind: 'name-list'
  maxItems: number
  maxLength: number
}

export type FieldSpec =
  NumberFieldSpec | ChoiceFieldSpec | BooleanFieldSpec | TextFieldSpec | IntListFieldSpec | NameListFieldSpec

type Omit2<T> = Omit<T, 'kind'>
const num = (s: Omit2<NumberFieldSpec>): NumberFieldSpec => ({ kind: 'number', ...s })
const choice = <const T extends string>(
  s: Omit2<ChoiceFieldSpec<T>> & { options: readonly { value: T; label: string }[] },
): ChoiceFieldSpec<T> => ({ kind: 'choice', ...s })
const flag = (s: Omit2<BooleanFieldSpec>): BooleanFieldSpec => ({ kind: 'boolean', ...s })
const text = (s: Omit2<TextFieldSpec>): TextFieldSpec => ({ kind: 'text', ...s })
const intList = (s: Omit2<IntListFieldSpec>): IntListFieldSpec => ({ kind: 'int-list', ...s })
const nameList = (s: Omit2<NameListFieldSpec>): NameListFieldSpec => ({ kind: 'name-list', ...s })

const SEED_MAX = 2 ** 31 - 1

/** Shown only for a dataset of sound recordings (`dataKind` 'audio'). */
const FOR_SOUND: FieldCondition = { path: 'dataKind', in: ['audio'] }
/** Shown only for a dataset of pictures. */
const FOR_IMAGES: FieldCondition = { path: 'dataKind', in: ['image'] }
const SOUND_AUGMENT_ON: FieldCondition = { path: 'sound.augment.enabled', in: [true] }
/** What every sound augmentation setting shares: its group, shown for sound, usable while augmentation is on. */
const SOUND_AUGMENT_FIELD = {
  group: 'augment',
  visibleWhen: FOR_SOUND,
  enabledWhen: SOUND_AUGMENT_ON,
  disabledReason: 'Sound augmentation is off.',
} as const

/** Every setting of a run, nested as in `RunConfig`. */
export const runFields = {
  name: text({
    label: 'Run name',
    help: 'Shown in History. Suggested from the model, the dataset and the learning rate.',
    default: 'Run',
    maxLength: 200,
    group: 'run',
    custom: true,
  }),
  dataKind: choice({
    label: 'Kind of data',
    help: 'What the dataset holds: pictures, or sound recordings (each clip becomes a spectrogram picture). Detected from the files on the Data step.',
    default: 'image',
    options: [
      { value: 'image', label: 'Images' },
      { value: 'audio', label: 'Sound recordings' },
    ],
    group: 'run',
    custom: true,
  }),
  split: {
    train: num({
      label: 'Training share',
      help: 'Images the model learns from.',
      default: 0.7,
      min: 0,
      max: 1,
      minExclusive: true,
      step: 0.05,
      unit: 'fraction',
      noun: 'a share',
      group: 'split',
      custom: true,
    }),
    val: num({
      label: 'Validation share',
      help: 'Images checked after every epoch, to stop early and pick the best epoch.',
      default: 0.15,
      min: 0,
      max: 0.9,
      step: 0.05,
      unit: 'fraction',
      noun: 'a share',
      group: 'split',
      custom: true,
    }),
    test: num({
      label: 'Test share',
      help: 'Images kept aside until the end, for an honest score.',
      default: 0.15,
      min: 0,
      max: 0.9,
      step: 0.05,
      unit: 'fraction',
      noun: 'a share',
      group: 'split',
      custom: true,
    }),
    seed: num({
      label: 'Split seed',
      help: 'The same seed on the same folder gives the same split.',
      default: 42,
      min: 0,
      max: SEED_MAX,
      integer: true,
      step: 1,
      unit: '',
      noun: 'a seed',
      group: 'split',
    }),
  },
  freeze: {
    preset: choice({
      label: 'What trains',
      help: 'Only a new head (fast), the top blocks too, small LoRA adapters, a LoReFT nudge inside the model, everything, or layers you choose.',
      default: 'feature-extraction',
      options: [
        { value: 'feature-extraction', label: 'Train only a new head' },
        { value: 'top-blocks', label: 'Also adjust the top blocks' },
        { value: 'lora', label: 'Adapters (LoRA)' },
        { value: 'loreft', label: 'Representation tuning (LoReFT)' },
        { value: 'full', label: 'Everything' },
        { value: 'custom', label: 'Custom' },
      ],
      group: 'freeze',
      custom: true,
    }),
    topBlocks: num({
      label: 'Blocks at the top',
      help: 'How many blocks at the top of the model train in phase 2 (top blocks), or get LoRA adapters when no layers are chosen.',
      default: 2,
      min: 0,
      max: 100,
      integer: true,
      step: 1,
      unit: 'blocks',
      noun: 'a number of blocks',
      group: 'freeze',
      visibleWhen: { path: 'freeze.preset', in: ['top-blocks', 'lora'] },
      custom: true,
    }),
    trainableLayers: nameList({
      label: 'Chosen layers',
      help: 'Names of the model layers that train in phase 2 (Custom).',
      default: [],
      maxItems: 2000,
      maxLength: 200,
      group: 'freeze',
      custom: true,
    }),
    batchNormStatistics: flag({
      label: 'BatchNorm learns from each batch',
      help: 'Off (recommended): unfrozen BatchNorm layers keep their pretrained statistics and only adjust their scale and shift. On: they normalise with each small batch and move their statistics, which often makes fine-tuning worse.',
      default: false,
      group: 'freeze',
      visibleWhen: { path: 'freeze.preset', in: ['top-blocks', 'full', 'custom'] },
    }),
  },
  head: {
    units: intList({
      label: 'Hidden layers',
      help: 'Sizes of extra dense layers before the output, e.g. 128. Empty: a single output layer.',
      default: [],
      min: 1,
      max: 4096,
      maxItems: 4,
      group: 'head',
    }),
    dropout: num({
      label: 'Dropout',
      help: 'Share of features randomly hidden while training, so the head does not memorise.',
      default: 0.2,
      min: 0,
      max: 0.9,
      step: 0.05,
      unit: 'fraction',
      noun: 'a dropout rate',
      group: 'head',
    }),
    initializer: choice({
      label: 'Initial weights',
      help: 'How the new layers start. Glorot suits the softmax output; He suits ReLU hidden layers.',
      default: 'glorot',
      options: [
        { value: 'glorot', label: 'Glorot' },
        { value: 'he', label: 'He' },
      ],
      group: 'head',
    }),
    l1: num({
      label: 'L1 penalty',
      help: 'Pushes unimportant weights to exactly zero. 0 turns it off.',
      default: 0,
      min: 0,
      max: 1,
      step: 0.0001,
      unit: '',
      noun: 'an L1 strength',
      group: 'head',
    }),
    l2: num({
      label: 'L2 penalty',
      help: 'Keeps weights small so the head generalises. 0 turns it off.',
      default: 1e-4,
      min: 0,
      max: 1,
      step: 0.0001,
      unit: '',
      noun: 'an L2 strength',
      group: 'head',
    }),
  },
  hyper: {
    optimizer: choice({
      label: 'Optimiser',
      help: 'How weights are updated from the errors. Adam adapts by itself.',
      default: 'adam',
      options: [
        { value: 'adam', label: 'Adam' },
        { value: 'sgd', label: 'SGD' },
        { value: 'momentum', label: 'SGD with momentum' },
        { value: 'rmsprop', label: 'RMSprop' },
        { value: 'adagrad', label: 'Adagrad' },
      ],
      group: 'optimiser',
    }),
    learningRate: num({
      label: 'Learning rate',
      help: 'Size of each update step. Too high diverges, too low crawls.',
      default: 1e-3,
      min: 1e-6,
      max: 1,
      step: 10,
      unit: '',
      noun: 'a learning rate',
      group: 'optimiser',
    }),
    momentum: num({
      label: 'Momentum',
      help: 'How much of the previous step carries over.',
      default: 0.9,
      min: 0,
      max: 0.999,
      step: 0.01,
      unit: '',
      noun: 'a momentum',
      group: 'optimiser',
      visibleWhen: { path: 'hyper.optimizer', in: ['momentum', 'rmsprop'] },
    }),
    schedule: {
      kind: choice({
        label: 'Schedule',
        help: 'How the learning rate changes: constant, step decay, cosine decay to near zero, or lower on a plateau.',
        default: 'constant',
        options: [
          { value: 'constant', label: 'Constant' },
          { value: 'step', label: 'Step decay' },
          { value: 'cosine', label: 'Cosine decay' },
          { value: 'plateau', label: 'Reduce on plateau' },
        ],
        group: 'schedule',
      }),
      stepEvery: num({
        label: 'Decay every',
        help: 'Epochs between two decays.',
        default: 10,
        min: 1,
        max: 1000,
        integer: true,
        step: 1,
        unit: 'epochs',
        noun: 'a number of epochs',
        group: 'schedule',
        visibleWhen: { path: 'hyper.schedule.kind', in: ['step'] },
      }),
      gamma: num({
        label: 'Decay factor',
        help: 'The rate is multiplied by this each time.',
        default: 0.5,
        min: 0,
        max: 1,
        minExclusive: true,
        step: 0.1,
        unit: '',
        noun: 'a factor',
        group: 'schedule',
        visibleWhen: { path: 'hyper.schedule.kind', in: ['step', 'plateau'] },
      }),
      patience: num({
        label: 'Plateau patience',
        help: 'Epochs without improvement before the rate is lowered.',
        default: 3,
        min: 1,
        max: 1000,
        integer: true,
        step: 1,
        unit: 'epochs',
        noun: 'a number of epochs',
        group: 'schedule',
        visibleWhen: { path: 'hyper.schedule.kind', in: ['plateau'] },
      }),
    },
    batchSize: num({
      label: 'Batch size',
      help: 'Images per update. Larger is smoother but uses more memory.',
      default: 16,
      min: 1,
      max: 512,
      integer: true,
      step: 1,
      unit: 'images',
      noun: 'a batch size',
      group: 'length',
    }),
    epochs: num({
      label: 'Epochs',
      help: 'Full passes over the training images (phase 1). Early stopping may finish sooner.',
      // Head epochs on cached features cost milliseconds; 50 with early stopping matches Teachable Machine.
      default: 50,
      min: 1,
      max: 1000,
      integer: true,
      step: 1,
      unit: 'epochs',
      noun: 'a number of epochs',
      group: 'length',
    }),
    seed: num({
      label: 'Training seed',
      help: 'Makes training repeatable: same seed, same result.',
      default: 42,
      min: 0,
      max: SEED_MAX,
      integer: true,
      step: 1,
      unit: '',
      noun: 'a seed',
      group: 'length',
    }),
    earlyStopping: {
      enabled: flag({
        label: 'Stop when validation stops improving',
        help: 'Saves time and avoids over-fitting.',
        default: true,
        group: 'early-stopping',
      }),
      patience: num({
        label: 'Patience',
        help: 'Epochs without improvement before stopping.',
        default: 8,
        min: 1,
        max: 1000,
        integer: true,
        step: 1,
        unit: 'epochs',
        noun: 'a number of epochs',
        group: 'early-stopping',
        enabledWhen: { path: 'hyper.earlyStopping.enabled', in: [true] },
        disabledReason: 'Early stopping is off.',
      }),
      restoreBest: flag({
        label: "Keep the best epoch's weights",
        help: 'Roll back to the epoch with the best validation loss.',
        default: true,
        group: 'early-stopping',
        enabledWhen: { path: 'hyper.earlyStopping.enabled', in: [true] },
        disabledReason: 'Early stopping is off.',
      }),
    },
    classWeights: choice({
      label: 'Class weights',
      help: 'Gives rare classes more weight so they are not ignored.',
      default: 'auto',
      options: [
        { value: 'auto', label: 'Balance automatically' },
        { value: 'none', label: 'None' },
      ],
      group: 'loss',
    }),
    labelSmoothing: num({
      label: 'Label smoothing',
      help: 'Teaches the model to be a little less sure of every label, which helps when some labels are wrong. 0 turns it off.',
      default: 0,
      min: 0,
      max: 0.3,
      step: 0.05,
      unit: '',
      noun: 'a smoothing amount',
      group: 'loss',
    }),
  },
  phase2: {
    enabled: flag({
      label: 'Phase 2: train more than the head',
      help: 'After the head has learned, train what the strategy adds (unfrozen layers or adapters) together with it. Every strategy but “Train only a new head” needs it.',
      default: false,
      group: 'phase2',
      // The Freeze step sets it with the strategy; a config where the two disagree is refused (run-rules configConflicts).
      custom: true,
      enabledWhen: { path: 'freeze.preset', in: ['top-blocks', 'lora', 'loreft', 'full', 'custom'] },
      disabledReason:
        'With “Train only a new head” nothing but the head trains, so there is nothing for phase 2 to train.',
    }),
    lrFactor: num({
      label: 'Learning-rate factor',
      help: 'Phase 2 learns at the phase-1 rate times this; small keeps what the model already knows.',
      default: 0.1,
      min: 0,
      max: 1,
      minExclusive: true,
      step: 0.05,
      unit: '× phase-1 rate',
      noun: 'a factor',
      group: 'phase2',
      enabledWhen: { path: 'phase2.enabled', in: [true] },
      disabledReason: 'Phase 2 is off.',
    }),
    epochs: num({
      label: 'Phase 2 epochs',
      help: 'Passes over the training images while the unfrozen layers or adapters train.',
      default: 5,
      min: 1,
      max: 1000,
      integer: true,
      step: 1,
      unit: 'epochs',
      noun: 'a number of epochs',
      group: 'phase2',
      enabledWhen: { path: 'phase2.enabled', in: [true] },
      disabledReason: 'Phase 2 is off.',
    }),
  },
  adapters: {
    loraRank: num({
      label: 'LoRA rank',
      help: 'How much the adapter may change the model: the size of each low-rank update. Higher can learn more and adds numbers to train.',
      default: 8,
      min: 1,
      max: 64,
      integer: true,
      step: 1,
      unit: '',
      noun: 'a rank',
      group: 'adapters',
      visibleWhen: { path: 'freeze.preset', in: ['lora'] },
    }),
    loraAlpha: num({
      label: 'LoRA strength (α)',
      help: 'Scales what the adapters add, by α ÷ rank. Usually twice the rank.',
      default: 16,
      min: 0,
      max: 1024,
      minExclusive: true,
      step: 1,
      unit: '',
      noun: 'a strength',
      group: 'adapters',
      visibleWhen: { path: 'freeze.preset', in: ['lora'] },
    }),
    loraTargets: nameList({
      label: 'Adapted layers',
      help: 'Names of the convolution and dense layers that get LoRA adapters. Empty: those of the top blocks.',
      default: [],
      maxItems: 2000,
      maxLength: 200,
      group: 'adapters',
      custom: true,
    }),
    reftRank: num({
      label: 'LoReFT rank',
      help: 'How many directions inside the model the nudge may move. A few are enough for most image sets.',
      default: 4,
      min: 1,
      max: 16,
      integer: true,
      step: 1,
      unit: '',
      noun: 'a rank',
      group: 'adapters',
      visibleWhen: { path: 'freeze.preset', in: ['loreft'] },
    }),
    reftLayers: nameList({
      label: 'Nudged layers',
      help: 'Names of the layers whose output LoReFT nudges. Empty: the output of the third block from the top.',
      default: [],
      maxItems: 50,
      maxLength: 200,
      group: 'adapters',
      custom: true,
    }),
  },
  augment: {
    enabled: flag({
      label: 'Vary the training images randomly',
      help: 'Shows the model slightly changed copies so it generalises better. Turns off the feature cache, so training is much slower.',
      default: false,
      group: 'augment',
      visibleWhen: FOR_IMAGES,
    }),
    flip: flag({
      label: 'Mirror left–right',
      help: 'Flip half the images horizontally.',
      default: true,
      group: 'augment',
      visibleWhen: FOR_IMAGES,
      enabledWhen: { path: 'augment.enabled', in: [true] },
      disabledReason: 'Augmentation is off.',
    }),
    crop: flag({
      label: 'Random crop',
      help: 'Cut a slightly smaller part of each image.',
      default: true,
      group: 'augment',
      visibleWhen: FOR_IMAGES,
      enabledWhen: { path: 'augment.enabled', in: [true] },
      disabledReason: 'Augmentation is off.',
    }),
    rotate: flag({
      label: 'Small rotation',
      help: 'Turn images by a few degrees.',
      default: false,
      group: 'augment',
      visibleWhen: FOR_IMAGES,
      enabledWhen: { path: 'augment.enabled', in: [true] },
      disabledReason: 'Augmentation is off.',
    }),
    brightness: flag({
      label: 'Brightness',
      help: 'Make images a little lighter or darker.',
      default: true,
      group: 'augment',
      visibleWhen: FOR_IMAGES,
      enabledWhen: { path: 'augment.enabled', in: [true] },
      disabledReason: 'Augmentation is off.',
    }),
  },
  sound: {
    clipSeconds: num({
      label: 'Clip length',
      help: 'Recordings are cut into clips this long: a shorter recording is padded with silence, a longer one gives several clips.',
      default: 1,
      min: 0.1,
      max: 10,
      step: 0.1,
      unit: 'seconds',
      noun: 'a clip length',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    clipOverlap: num({
      label: 'Clip overlap',
      help: 'Share of each clip that the next clip of the same recording repeats. 0 cuts long recordings into clips end to end.',
      default: 0,
      min: 0,
      max: 0.9,
      step: 0.1,
      unit: 'fraction',
      noun: 'an overlap',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    windowMs: num({
      label: 'Analysis window',
      help: 'Length of each slice of sound the spectrogram measures. Longer tells pitches apart better and timing worse.',
      default: 25,
      min: 5,
      max: 200,
      step: 5,
      unit: 'ms',
      noun: 'a window length',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    hopMs: num({
      label: 'Step between slices',
      help: 'Time from one slice of the spectrogram to the next. Smaller shows timing in more detail.',
      default: 10,
      min: 1,
      max: 100,
      step: 1,
      unit: 'ms',
      noun: 'a step',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    melBands: num({
      label: 'Pitch bands',
      help: 'How many bands the pitch range is divided into, finer for low pitches as in hearing (the mel scale): the height of the spectrogram picture.',
      default: 64,
      min: 8,
      max: 256,
      integer: true,
      step: 8,
      unit: 'bands',
      noun: 'a number of bands',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    fMin: num({
      label: 'Lowest pitch',
      help: 'Lowest frequency the bands cover. Raise it to ignore rumble and hum.',
      default: 0,
      min: 0,
      max: 7900,
      step: 50,
      unit: 'Hz',
      noun: 'a frequency',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    fMax: num({
      label: 'Highest pitch',
      help: 'Highest frequency the bands cover. Clips are sampled at 16 kHz, so 8000 covers all they hold.',
      default: 8000,
      min: 100,
      max: 8000,
      step: 100,
      unit: 'Hz',
      noun: 'a frequency',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    topDb: num({
      label: 'Loudness range',
      help: 'How far below the loudest sound of each clip detail is kept; anything quieter shows as black.',
      default: 40,
      min: 10,
      max: 150,
      step: 5,
      unit: 'dB',
      noun: 'a range',
      group: 'sound',
      visibleWhen: FOR_SOUND,
    }),
    augment: {
      enabled: flag({
        label: 'Vary the training sounds randomly',
        help: 'Trains on slightly changed copies of each clip (louder or softer, shifted in time, with noise, parts blanked) so the model generalises better. Turns off the feature cache, so training is much slower.',
        default: false,
        group: 'augment',
        visibleWhen: FOR_SOUND,
      }),
      gainDb: num({
        label: 'Volume change',
        help: 'Makes each clip louder or softer by up to this much. 0 turns it off.',
        default: 6,
        min: 0,
        max: 24,
        step: 1,
        unit: 'dB',
        noun: 'a volume change',
        ...SOUND_AUGMENT_FIELD,
      }),
      timeShift: num({
        label: 'Time shift',
        help: 'Moves the sound earlier or later by up to this share of the clip. 0 turns it off.',
        default: 0.1,
        min: 0,
        max: 0.5,
        step: 0.05,
        unit: 'fraction',
        noun: 'a share',
        ...SOUND_AUGMENT_FIELD,
      }),
      noiseProbability: num({
        label: 'Clips with added noise',
        help: 'Share of training clips that get random background noise. 0 adds none.',
        default: 0.5,
        min: 0,
        max: 1,
        step: 0.1,
        unit: 'fraction',
        noun: 'a share',
        ...SOUND_AUGMENT_FIELD,
      }),
      noiseSnrDb: num({
        label: 'Noisiest signal-to-noise',
        help: 'How much louder the sound is than the added noise at the noisiest; each noisy clip gets between this and 20 dB more. Lower is noisier.',
        default: 10,
        min: -10,
        max: 60,
        step: 5,
        unit: 'dB',
        noun: 'a signal-to-noise ratio',
        ...SOUND_AUGMENT_FIELD,
      }),
      timeMasks: num({
        label: 'Time masks',
        help: 'Stretches of time blanked in each clip’s spectrogram, so no single moment decides. 0 turns it off.',
        default: 2,
        min: 0,
        max: 10,
        integer: true,
        step: 1,
        unit: 'masks',
        noun: 'a number of masks',
        ...SOUND_AUGMENT_FIELD,
      }),
      timeMaskWidth: num({
        label: 'Widest time mask',
        help: 'Longest blanked stretch, as a share of the clip.',
        default: 0.1,
        min: 0,
        max: 0.5,
        step: 0.05,
        unit: 'fraction',
        noun: 'a share',
        ...SOUND_AUGMENT_FIELD,
      }),
      frequencyMasks: num({
        label: 'Pitch-band masks',
        help: 'Runs of pitch bands blanked in each clip’s spectrogram, so no single band decides. 0 turns it off.',
        default: 2,
        min: 0,
        max: 10,
        integer: true,
        step: 1,
        unit: 'masks',
        noun: 'a number of masks',
        ...SOUND_AUGMENT_FIELD,
      }),
      frequencyMaskWidth: num({
        label: 'Widest band mask',
        help: 'Widest blanked run of bands, as a share of all bands.',
        default: 0.15,
        min: 0,
        max: 0.5,
        step: 0.05,
        unit: 'fraction',
        noun: 'a share',
        ...SOUND_AUGMENT_FIELD,
      }),
    },
  },
}

// ---------------------------------------------------------------- types from the table

/** The value type of a field table (a leaf's default type, objects nested). */
export type ValueOf<T> = T extends { kind: string; default: infer V } ? V : { [K in keyof T]: ValueOf<T[K]> }

type Fields = typeof runFields
export type RunSettings = ValueOf<Fields>

/** A run's settings plus what it trains: the model and the dataset. */
export type RunConfig = RunSettings & { modelId: string; datasetId: string }

// ---------------------------------------------------------------- the flat list

export interface FieldEntry {
  /** Dotted path in RunConfig, e.g. `hyper.learningRate`. */
  path: string
  spec: FieldSpec
}

function isSpec(v: unknown): v is FieldSpec {
  return typeof v === 'object' && v !== null && typeof (v as { kind?: unknown }).kind === 'string'
}

function flatten(node: Record<string, unknown>, prefix: string, out: FieldEntry[]): FieldEntry[] {
  for (const [key, value] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (isSpec(value)) out.push({ path, spec: value })
    else flatten(value as Record<string, unknown>, path, out)
  }
  return out
}

/** Every field in table order. */
export const fieldList: readonly FieldEntry[] = flatten(runFields, '', [])
const byPath = new Map(fieldList.map((f) => [f.path, f.spec]))

/** The spec of one field; throws for a path that is not in the table (a programming error). */
export function field(path: string): FieldSpec {
  const spec = byPath.get(path)
  if (!spec) throw new Error(`No setting '${path}' in the field table.`)
  return spec
}

export function numberField(path: string): NumberFieldSpec {
  const spec = field(path)
  if (spec.kind !== 'number') throw new Error(`Setting '${path}' is not a number.`)
  return spec
}

export function fieldsInGroup(group: FieldGroup): FieldEntry[] {
  return fieldList.filter((f) => f.spec.group === group)
}

export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj
  for (const key of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let cur = obj
  for (const key of keys.slice(0, -1)) {
    if (typeof cur[key] !== 'object' || cur[key] === null) cur[key] = {}
    cur = cur[key] as Record<string, unknown>
  }
  cur[keys[keys.length - 1]!] = value
}

/** Whether a field's condition holds for a config (no condition: always). */
export function conditionHolds(cond: FieldCondition | undefined, config: unknown): boolean {
  if (!cond) return true
  return cond.in.includes(getPath(config, cond.path) as string | number | boolean)
}

// ---------------------------------------------------------------- validation

/** The sentence a number field shows when its text is not a valid value. */
export function numberMessage(spec: NumberFieldSpec): string {
  const range = `between ${spec.min} and ${spec.max}`
  const what = spec.integer ? `${spec.noun} (a whole number)` : spec.noun
  const above = spec.minExclusive ? ` (above ${spec.min})` : ''
  return `Enter ${what} ${range}${above}, e.g. ${spec.default === 0 && spec.minExclusive ? spec.max : spec.default}`
}

/** Reads a number field's text. Returns the value, or a message that says what to enter. */
export function parseNumber(textValue: string, spec: NumberFieldSpec): { value: number } | { error: string } {
  const t = textValue.trim()
  const n = t === '' ? NaN : Number(t)
  if (!Number.isFinite(n) || (spec.integer && !Number.isInteger(n))) return { error: numberMessage(spec) }
  const lowOk = spec.minExclusive ? n > spec.min : n >= spec.min
  if (!lowOk || n > spec.max) return { error: numberMessage(spec) }
  return { value: n }
}

/** Reads "128, 64" into a list of whole numbers. Empty text means an empty list. */
export function parseIntList(textValue: string, spec: IntListFieldSpec): { value: number[] } | { error: string } {
  const t = textValue.trim()
  if (t === '') return { value: [] }
  const parts = t.split(/[,\s]+/).filter(Boolean)
  const nums = parts.map(Number)
  if (parts.length > spec.maxItems || nums.some((n) => !Number.isInteger(n) || n < spec.min || n > spec.max)) {
    return {
      error: `Enter up to ${spec.maxItems} whole numbers between ${spec.min} and ${spec.max} separated by commas, e.g. 128, 64 — or leave empty.`,
    }
  }
  return { value: nums }
}

// ---------------------------------------------------------------- the schema

function leafSchema(spec: FieldSpec): z.ZodType {
  switch (spec.kind) {
    case 'number': {
      let s = z.number().finite()
      s = spec.minExclusive ? s.gt(spec.min, numberMessage(spec)) : s.min(spec.min, numberMessage(spec))
      s = s.max(spec.max, numberMessage(spec))
      return spec.integer ? s.int(numberMessage(spec)) : s
    }
    case 'choice':
      return z.enum(spec.options.map((o) => o.value) as [string, ...string[]])
    case 'boolean':
      return z.boolean()
    case 'text':
      return z.string().min(1, `Enter ${spec.label.toLowerCase()}.`).max(spec.maxLength)
    case 'int-list':
      return z.array(z.number().int().min(spec.min).max(spec.max)).max(spec.maxItems)
    case 'name-list':
      return z.array(z.string().max(spec.maxLength)).max(spec.maxItems)
  }
}

function objectSchema(node: Record<string, unknown>): z.ZodObject {
  const shape: Record<string, z.ZodType> = {}
  for (const [key, value] of Object.entries(node))
    shape[key] = isSpec(value) ? leafSchema(value) : objectSchema(value as Record<string, unknown>)
  return z.strictObject(shape)
}

const id = z.string().min(1).max(200)

/** Split shares: each within its field's limits, together 100 %. */
export const splitRatiosSchema = objectSchema(runFields.split)
  .refine((r) => Math.abs((r.train as number) + (r.val as number) + (r.test as number) - 1) < 1e-6, {
    message: 'Train, validation and test must add up to 100%.',
  })
  .refine((r) => (r.train as number) > 0, { message: 'The training share must be above 0%.' }) as unknown as z.ZodType<
  RunSettings['split']
>

/**
 * The schema main checks every run config with. Built from the table, so limits cannot drift. Settings that
 * cannot act together (phase 2 with nothing to train, unfrozen layers that would never train) are refused
 * with the reason by one rule shared with the wizard: `configConflicts` in run-rules.ts.
 */
export const runConfigSchema = objectSchema(runFields)
  .extend({ modelId: id, datasetId: id, split: splitRatiosSchema })
  .strict()
  .superRefine((value, ctx) => {
    for (const c of configConflicts(value as unknown as RunConfig))
      ctx.addIssue({ code: 'custom', message: c.message, path: c.path.split('.') })
  }) as unknown as z.ZodType<RunConfig>

// ---------------------------------------------------------------- defaults and presets

function defaultsOf(node: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node))
    out[key] = isSpec(value) ? structuredClone(value.default) : defaultsOf(value as Record<string, unknown>)
  return out
}

/** A complete config with every field at its default. */
export function defaultRunConfig(modelId: string, datasetId: string, name?: string): RunConfig {
  const settings = defaultsOf(runFields) as RunSettings
  return { ...settings, name: name ?? settings.name, modelId, datasetId }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Merges `given` onto `base` key by key: nested objects merge, arrays and values replace. A settings
 * file from an older Tunewise (without settings added since) keeps every new setting's default.
 */
export function mergeSettings(base: Record<string, unknown>, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(given)) {
    const current = out[key]
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeSettings(current, value) : value
  }
  return out
}

export type HyperParams = RunSettings['hyper']

/** The defaults of the training settings (phase 1). */
export const defaultHyper: HyperParams = defaultRunConfig('', '').hyper

/** Presets offered on the Hyperparameters step: each names only what it changes from the defaults. */
export const hyperPresets = {
  quick: { epochs: 20, learningRate: 2e-3, batchSize: 32 },
  balanced: { epochs: 50, learningRate: 1e-3, batchSize: 16 },
  thorough: {
    epochs: 100,
    learningRate: 5e-4,
    batchSize: 16,
    schedule: { ...defaultHyper.schedule, kind: 'cosine' as const },
  },
} satisfies Record<string, Partial<HyperParams>>

// ---------------------------------------------------------------- generated documentation

function showDefault(spec: FieldSpec): string {
  if (spec.kind === 'choice') return `"${spec.default}"`
  if (Array.isArray(spec.default)) return JSON.stringify(spec.default)
  if (spec.kind === 'text') return `"${spec.default}"`
  return String(spec.default)
}

/** "0.000001 – 1", "one of adam, sgd, …", "true or false": what a field accepts, in words. */
export function describeLimits(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'number': {
      const low = spec.minExclusive ? `above ${spec.min}` : String(spec.min)
      const unit = spec.unit && spec.unit !== 'fraction' ? ` ${spec.unit}` : ''
      return `${low} – ${spec.max}${unit}${spec.integer ? ', whole' : ''}`
    }
    case 'choice':
      return spec.options.map((o) => `"${o.value}"`).join(', ')
    case 'boolean':
      return 'true or false'
    case 'text':
      return `text, up to ${spec.maxLength} characters`
    case 'int-list':
      return `up to ${spec.maxItems} whole numbers, ${spec.min} – ${spec.max}`
    case 'name-list':
      return `up to ${spec.maxItems} layer names`
  }
}

/** One line per setting for the CLI's help: `hyper.learningRate  0.001  (0.000001 – 1)  Size of …`. */
export function settingsHelp(): string {
  const rows = fieldList.map((f) => [f.path, showDefault(f.spec), describeLimits(f.spec), f.spec.help])
  const w0 = Math.max(...rows.map((r) => r[0]!.length))
  const w1 = Math.max(...rows.map((r) => r[1]!.length))
  return rows.map((r) => `  ${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]}. ${r[3]}`).join('\n')
}

/** The README's settings table (Markdown), generated so it cannot drift from the code. */
export function settingsMarkdown(): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|')
  const lines = [
    '| Setting (`--config` path) | Label | Default | Accepts | What it does |',
    '| --- | --- | --- | --- | --- |',
  ]
  for (const f of fieldList)
    lines.push(
      `| \`${f.path}\` | ${esc(f.spec.label)} | ${esc(showDefault(f.spec))} | ${esc(describeLimits(f.spec))} | ${esc(f.spec.help)} |`,
    )
  return lines.join('\n')
}
