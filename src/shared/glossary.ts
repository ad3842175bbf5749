/**
 * Every technical term the wizard shows, with one plain line for people who never heard it. Screens
 * say things in plain words first and name the term second ("how big each step is (learning rate)");
 * the term is drawn by Term.svelte, which shows the line here on hover and on keyboard focus.
 *
 * The numbers of a run keep their one definition in scores.ts: the entries for accuracy, precision and
 * recall quote it. Pure TypeScript.
 */
import { scoreMeanings } from './scores'

export interface GlossaryEntry {
  /** The term as screens name it: lower case unless it is a name ("LoRA", "BatchNorm"). */
  term: string
  /** One plain line: what it is, in words a first-time user knows. */
  explain: string
  /**
   * Other ways the screens write it ("epochs", "learning-rate", "Split seed"), matched as whole words
   * regardless of case by `glossaryTermsIn`.
   */
  aliases?: readonly string[]
}

const entry = (term: string, explain: string, aliases: readonly string[] = []): GlossaryEntry => ({
  term,
  explain,
  aliases,
})

/** The glossary, one entry per term, grouped roughly in the order the wizard meets them. */
export const glossary = {
  // The model and its parts
  'fine-tuning': entry(
    'fine-tuning',
    'Teaching a model that already recognises pictures to tell your own classes apart, instead of starting from nothing.',
    ['fine-tune', 'fine-tunes', 'fine-tuned'],
  ),
  'pretrained-model': entry(
    'pretrained model',
    'A model someone already trained on a very large collection of photos, so it arrives knowing edges, textures and shapes.',
    ['pretrained', 'pretrained models'],
  ),
  layer: entry(
    'layer',
    "One step of the model's calculation; a picture goes through many such steps, from its pixels to the answer.",
    ['layers'],
  ),
  block: entry('block', 'A group of neighbouring layers that work together; the model is a stack of them.', [
    'blocks',
    'top blocks',
  ]),
  features: entry('features', 'The list of numbers a model produces to describe what it sees in a picture.', [
    'feature',
  ]),
  'feature-layer': entry(
    'feature layer',
    'The layer whose output, the features, describes the picture; the new head is attached there.',
  ),
  head: entry('head', 'The new output layer that turns the features into one of your classes; it always learns.', [
    'new head',
    'heads',
  ]),
  base: entry(
    'base',
    'Everything below the head: the pretrained part of the model that turns a picture into features.',
  ),
  'hidden-layer': entry(
    'hidden layer',
    'An extra layer inside the head, between the features and the answer; it can help when classes differ in subtle ways.',
    ['hidden layers'],
  ),
  parameters: entry(
    'parameters',
    'The numbers inside a model that training adjusts; the more of them learn, the slower training is and the more images it needs.',
    ['parameter', 'weights', 'weight', 'trainable parameters'],
  ),
  'output-shape': entry(
    'output shape',
    'The size of what a layer passes on, such as height × width × channels; “?” stands for however many images go in at once.',
  ),
  convolution: entry(
    'convolution layer',
    'A layer that slides small filters over the picture to find patterns such as edges, corners or textures.',
    ['convolution', 'convolution layers'],
  ),
  dense: entry('dense layer', 'A layer where every output is a mix of all its inputs, each with its own weight.', [
    'dense layers',
  ]),

  // What trains
  freeze: entry('freeze', "To keep a layer's parameters fixed, so training leaves what it already knows untouched.", [
    'frozen',
    'freezing',
    'freezes',
  ]),
  unfreeze: entry('unfreeze', 'To let a frozen layer learn again, usually slowly, so it adapts to your pictures.', [
    'unfrozen',
    'unfreezing',
    'trainable',
  ]),
  'phase-1': entry('phase 1', 'The first part of training: only the head learns, on top of a frozen base.'),
  'phase-2': entry(
    'phase 2',
    'The second part of training: after the head has learned, the chosen layers or adapters learn too, at a lower learning rate.',
  ),
  adapter: entry('adapter', 'A small add-on that learns beside a frozen layer and changes its output a little.', [
    'adapters',
  ]),
  lora: entry(
    'LoRA',
    'Low-Rank Adaptation: small adapters learn a correction for chosen layers, which is merged into them when you export.',
    ['LoRA adapters'],
  ),
  loreft: entry(
    'LoReFT',
    'Representation fine-tuning: learns a tiny edit of what the model sees at one point inside it, while every layer stays frozen.',
  ),
  intervention: entry(
    'nudge',
    'The small learned edit LoReFT makes to what one layer passes on, leaving the layer itself as it was.',
    ['nudges', 'intervention', 'interventions'],
  ),
  rank: entry('rank', 'How much an adapter or nudge may change: higher can learn more, and adds parameters to train.', [
    'LoRA rank',
    'LoReFT rank',
  ]),
  alpha: entry('strength (α)', "How strongly the LoRA adapters' correction is applied; usually twice the rank.", [
    'α',
    'alpha',
    'LoRA strength',
  ]),
  batchnorm: entry(
    'BatchNorm',
    'Layers that rescale what passes through them, using averages learned in pretraining.',
    ['BatchNorm layers', 'batch normalisation', 'batch normalization', 'BatchNormalization'],
  ),
  'feature-cache': entry(
    'feature cache',
    "Tunewise works out the frozen base's features for each image once and reuses them, which makes training much faster.",
    ['cache', 'caches', 'cached'],
  ),

  // Splitting the images
  split: entry('split', 'How the images are divided into training, validation and test images.'),
  'training-images': entry('training images', 'The images the model learns from.', [
    'training set',
    'training share',
    'training split',
  ]),
  validation: entry(
    'validation images',
    'Images held back from learning and checked after every epoch, to pick the best epoch and to stop in time.',
    ['validation', 'validation set', 'validation share', 'validation split'],
  ),
  test: entry(
    'test images',
    'Images kept aside until training ends and never used to learn or to choose anything; they give the honest final score.',
    ['test set', 'test share', 'test split'],
  ),
  stratified: entry(
    'stratified',
    'Every class is divided in the same proportions, so each part gets its fair share of every class.',
  ),
  seed: entry(
    'seed',
    'A number that fixes the random choices: the same number again gives the same result every time.',
    ['seeds', 'split seed', 'training seed'],
  ),

  // Training settings
  epoch: entry('epoch', 'One full pass over all the training images.', ['epochs']),
  'batch-size': entry(
    'batch size',
    'How many images the model looks at before each small adjustment of its parameters.',
  ),
  'learning-rate': entry(
    'learning rate',
    'How big each adjustment is: too high and training goes wild, too low and it barely moves.',
    ['learning-rate', 'learning rates', 'lr'],
  ),
  optimiser: entry(
    'optimiser',
    'The method that decides how to adjust the parameters after each look at some images; Adam is a safe choice.',
    ['optimizer', 'optimisers', 'optimizers'],
  ),
  momentum: entry('momentum', 'How much of the previous adjustment carries into the next one, which smooths training.'),
  schedule: entry(
    'learning-rate schedule',
    'How the learning rate changes during training, for example lowered when progress stalls.',
    ['schedule', 'learning rate schedule'],
  ),
  'early-stopping': entry(
    'early stopping',
    'Ends training once the validation score has stopped improving for a while, and keeps the best epoch.',
  ),
  patience: entry('patience', 'How many epochs without improvement to wait before acting.'),
  'class-weights': entry(
    'class weights',
    'Counts each image of a rare class more, so the model cannot simply ignore that class.',
  ),
  dropout: entry(
    'dropout',
    'Randomly hides some of the features while training, so the head cannot lean on any single one and memorise.',
  ),
  regularisation: entry(
    'regularisation',
    'Anything that stops a model from memorising its training images instead of learning what matters.',
    ['regularization'],
  ),
  l1: entry('L1 penalty', 'Regularisation that pushes unimportant weights to exactly zero; 0 turns it off.', [
    'L1',
    'L1 regularisation',
    'L1 regularization',
  ]),
  l2: entry('L2 penalty', 'Regularisation that keeps all weights small, so the head generalises; 0 turns it off.', [
    'L2',
    'L2 regularisation',
    'L2 regularization',
  ]),
  'label-smoothing': entry(
    'label smoothing',
    'Teaches the model to be a little less than 100 % sure of each label, which helps when some labels are wrong.',
  ),
  augmentation: entry(
    'augmentation',
    'Showing slightly changed copies of the training images (mirrored, cropped, lighter) so the model generalises.',
    ['augment', 'augmented', 'data augmentation'],
  ),
  generalise: entry('generalise', 'To do well on new pictures, not just on the ones it learned from.', [
    'generalises',
    'generalize',
    'generalizes',
  ]),
  overfitting: entry(
    'over-fitting',
    'Learning the training images by heart: great scores on them, worse ones on new pictures.',
    ['overfitting', 'over-fits', 'overfits'],
  ),
  'lr-finder': entry(
    'learning-rate finder',
    'A quick trial that trains for a few seconds at ever larger learning rates and suggests one below where the loss was lowest.',
    ['learning rate finder', 'range test'],
  ),

  // Scores
  accuracy: entry('accuracy', 'The share of images the model labels correctly.', ['accuracies']),
  'test-accuracy': entry('test accuracy', scoreMeanings.testAccuracy),
  'validation-accuracy': entry('validation accuracy', scoreMeanings.valAccuracy),
  precision: entry('precision', scoreMeanings.precision),
  recall: entry('recall', scoreMeanings.recall),
  f1: entry('F1', 'One score that is high only when both precision and recall are high; it balances the two.', [
    'F1 score',
  ]),
  loss: entry('loss', 'How wrong the answers are, counting how sure the model was of them; lower is better.', [
    'training loss',
    'validation loss',
  ]),
  'test-loss': entry(
    'test loss',
    'The loss on the test images: how wrong, and how confidently wrong, the final model is on pictures it never saw.',
  ),
  'confusion-matrix': entry(
    'confusion matrix',
    'A table of true class against predicted class: the diagonal holds the right answers, every other cell a mix-up.',
    ['confusion matrices'],
  ),
  confidence: entry(
    'confidence',
    'How sure the model is of its answer, from 0 to 100 %; sure is not the same as right.',
  ),
  interval: entry(
    '95 % interval',
    'The range the true score likely lies in, given how few examples measured it (for sound, how few recordings); more make it narrower.',
    ['interval', 'confidence interval', 'likely range', '95% interval'],
  ),
  'chance-level': entry(
    'chance level',
    'The score of always guessing the largest class; a model has to beat it to be of any use.',
  ),
  mcnemar: entry(
    "McNemar's test",
    'Checks whether two runs differ by more than luck, counting only the images one got right and the other wrong.',
    ['McNemar'],
  ),
  'p-value': entry(
    'p-value',
    'How likely a difference this large would be by pure luck; below 0.05 it is probably real.',
    ['p value'],
  ),
  'log-scale': entry(
    'logarithmic scale',
    'An axis where each step multiplies by ten, so very small and very large values both show.',
    ['log scale'],
  ),

  // After training
  backend: entry(
    'backend',
    'The engine that does the arithmetic: WASM runs everywhere, TensorFlow is faster where it is installed.',
  ),
  'model-card': entry(
    'model card',
    'A short document that travels with a model: what it does, how well, its limits and its license.',
    ['model cards'],
  ),
  tfjs: entry(
    'TF.js',
    'TensorFlow for JavaScript: the library that runs the exported model in a web page or a Node program.',
    ['TensorFlow.js'],
  ),
  mislabelled: entry(
    'mislabelled',
    'An image sitting in the wrong class folder, which teaches the model the wrong thing.',
    ['mislabeled'],
  ),
} as const satisfies Record<string, GlossaryEntry>

export type GlossaryKey = keyof typeof glossary

export const glossaryKeys = Object.keys(glossary) as GlossaryKey[]

/** The entry of a key; TypeScript already refuses unknown keys, so this never misses. */
export function glossaryEntry(key: GlossaryKey): GlossaryEntry {
  return glossary[key]
}

/** A term found in a text: which entry, and where (`text.slice(start, end)` is the words as written). */
export interface TermMatch {
  key: GlossaryKey
  start: number
  end: number
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// Every spelling of every term, longest first, so "test loss" wins over "loss" and "LoRA rank" over "LoRA".
const spellings = glossaryKeys
  .flatMap((key) => {
    const e: GlossaryEntry = glossary[key]
    return [e.term, ...(e.aliases ?? [])].map((s) => ({ key, s }))
  })
  .sort((a, b) => b.s.length - a.s.length)
const keyOf = new Map(spellings.map(({ key, s }) => [s.toLowerCase(), key]))
// Whole words only: "base" is not found in "database", nor "lr" in "already".
const pattern = new RegExp(
  `(?<![\\p{L}\\p{N}_-])(?:${spellings.map(({ s }) => escape(s)).join('|')})(?![\\p{L}\\p{N}_-])`,
  'giu',
)

/**
 * The glossary terms in a text, left to right, without overlaps (the longest spelling wins).
 * `glossaryTermsIn('Learning-rate factor')` finds `learning-rate` at 0–13. Words in “quotes” are names
 * (a class called “seed”, a file), not terms, and are left alone.
 */
export function glossaryTermsIn(text: string): TermMatch[] {
  const quoted = [...text.matchAll(/“[^”]*”/g)].map((q) => [q.index, q.index + q[0].length] as const)
  const found: TermMatch[] = []
  for (const m of text.matchAll(pattern)) {
    const key = keyOf.get(m[0].toLowerCase())
    const inQuotes = quoted.some(([from, to]) => m.index >= from && m.index < to)
    if (key && !inQuotes) found.push({ key, start: m.index, end: m.index + m[0].length })
  }
  return found
}

/** A text cut at its glossary terms: plain strings and the terms between them. */
export type TermSegment = string | { key: GlossaryKey; text: string }

/**
 * Splits a text into plain parts and glossary terms, for drawing each term with its explanation. Only the
 * first occurrence of each term is marked (one explanation a sentence is enough); `skip` leaves out
 * terms the screen already explains nearby, and `only`, when given, marks just those terms.
 */
export function termSegments(
  text: string,
  skip: readonly GlossaryKey[] = [],
  only?: readonly GlossaryKey[],
): TermSegment[] {
  const out: TermSegment[] = []
  const seen = new Set<GlossaryKey>(skip)
  let at = 0
  for (const m of glossaryTermsIn(text)) {
    if (seen.has(m.key) || (only && !only.includes(m.key))) continue
    seen.add(m.key)
    if (m.start > at) out.push(text.slice(at, m.start))
    out.push({ key: m.key, text: text.slice(m.start, m.end) })
    at = m.end
  }
  if (at < text.length) out.push(text.slice(at))
  return out
}
