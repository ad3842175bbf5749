/**
 * The model catalogue, as data. Bundled models ship inside npm `nsfwjs@4.4.0`; online ones are downloaded on
 * request from the TF.js model storage; the other task categories are listed so users see what is not there yet.
 */
import type { ModelCard, TaskCategory } from '../../../shared/types'

/** How pixel values (0-255) are scaled before the model sees them. */
export type Preprocess = 'rgb/255' | 'rgb/127.5-1'

export interface CatalogueEntry {
  card: ModelCard
  preprocess: Preprocess
  /** For bundled models: the folder under nsfwjs/dist/models/. */
  bundledFolder?: string
  /** For online models: the URL of model.json (shards sit next to it). */
  url?: string
}

export const preprocessDescriptions: Record<Preprocess, string> = {
  'rgb/255': 'RGB, each value divided by 255 (range 0 to 1), no mean subtraction.',
  'rgb/127.5-1': 'RGB, each value divided by 127.5 then minus 1 (range -1 to 1).',
}

const nsfwNote =
  'Starts from ImageNet features, then nsfwjs tuned the whole network on a 5-class content-rating task ' +
  '(drawings, hentai, neutral, porn, sexy). Its features lean towards that task: good for general objects and ' +
  'scenes, less tuned for fine-grained categories than a pure ImageNet model.'

const v1Card = (alpha: '0.25' | '0.50' | '1.0', id: string, parameters: number, sizeBytes: number): CatalogueEntry => ({
  preprocess: 'rgb/127.5-1',
  url: `https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_${alpha}_224/model.json`,
  card: {
    id,
    name: `MobileNet v1 ${alpha} (224)`,
    task: 'image-classification',
    supported: true,
    inputSize: [224, 224],
    parameters,
    license: 'Apache-2.0',
    licenseKind: 'permissive',
    source: {
      kind: 'online',
      url: `https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_${alpha}_224/model.json`,
      description: 'Downloaded once from the TensorFlow.js model storage (tfjs-models), then kept on this machine.',
    },
    card: {
      summary: `Google's MobileNet v1 with width multiplier ${alpha}: small and fast; smaller alpha = faster, less accurate.`,
      trainedOn: 'ImageNet (1,000 everyday object classes, 1.28 million photos).',
      input: '224×224 RGB photo.',
      preprocessing: 'RGB scaled to -1…1 (value / 127.5 - 1).',
      limitations: 'Older architecture; weaker features than MobileNetV2 at the same speed.',
    },
    // conv_pw_13_relu is the last 7×7 feature map; the engine adds global average pooling after it
    // (exactly what Keras' own pooling='avg' does), giving 256/512/1024 values, and drops the old classifier.
    featureLayer: 'conv_pw_13_relu',
    available: false,
    sizeBytes,
  },
})

const unsupported = (task: TaskCategory, name: string, reason: string): CatalogueEntry => ({
  preprocess: 'rgb/255',
  card: {
    id: `unsupported-${task}`,
    name,
    task,
    supported: false,
    unsupportedReason: reason,
    inputSize: [0, 0],
    parameters: 0,
    license: 'n/a',
    licenseKind: 'unknown',
    source: { kind: 'online', description: 'Not available yet.' },
    card: { summary: reason, trainedOn: '', input: '', preprocessing: '', limitations: reason },
    featureLayer: '',
    available: false,
  },
})

export const catalogue: CatalogueEntry[] = [
  {
    preprocess: 'rgb/255',
    bundledFolder: 'mobilenet_v2',
    card: {
      id: 'mobilenet-v2-nsfwjs',
      name: 'MobileNetV2 (bundled)',
      task: 'image-classification',
      supported: true,
      inputSize: [224, 224],
      parameters: 2_619_461,
      license: 'MIT',
      licenseKind: 'permissive',
      source: { kind: 'bundled', description: 'Ships with Tunewise inside the npm package nsfwjs 4.4.0 (MIT).' },
      card: {
        summary: 'A fast, small network (2.6 M parameters). The recommended starting point on an ordinary computer.',
        trainedOn: nsfwNote,
        input: '224×224 RGB image.',
        preprocessing: preprocessDescriptions['rgb/255'],
        limitations:
          'Weights are 8-bit quantised (dequantised on load). Features come from flatten_1 (1,280 values, after a ' +
          '7×7 average pooling); the old 256-128-5 classifier is replaced by your head.',
      },
      featureLayer: 'flatten_1',
      available: true,
    },
  },
  {
    preprocess: 'rgb/255',
    bundledFolder: 'inception_v3',
    card: {
      id: 'inception-v3-nsfwjs',
      name: 'InceptionV3 (bundled)',
      task: 'image-classification',
      supported: true,
      inputSize: [299, 299],
      parameters: 22_360_869,
      license: 'MIT',
      licenseKind: 'permissive',
      source: { kind: 'bundled', description: 'Ships with Tunewise inside the npm package nsfwjs 4.4.0 (MIT), 29 MB.' },
      card: {
        summary: 'A larger, slower network (22 M parameters, ~8× the work of MobileNetV2) with richer features.',
        trainedOn: nsfwNote,
        input: '299×299 RGB image.',
        preprocessing: preprocessDescriptions['rgb/255'],
        limitations:
          'Slow without a GPU. Features come from flatten_1 (2,048 values, after an 8×8 average pooling over ' +
          'mixed10); the old classifier is replaced by your head.',
      },
      featureLayer: 'flatten_1',
      available: true,
    },
  },
  v1Card('0.25', 'mobilenet-v1-025-224', 475_544, 1_900_000),
  v1Card('0.50', 'mobilenet-v1-050-224', 1_342_536, 5_400_000),
  v1Card('1.0', 'mobilenet-v1-100-224', 4_253_864, 17_000_000),
  {
    preprocess: 'rgb/127.5-1',
    url: 'https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top/model.json',
    card: {
      id: 'mobilenet-v2-tm-224',
      name: 'MobileNetV2 1.0 (Teachable Machine, ImageNet)',
      task: 'image-classification',
      supported: true,
      inputSize: [224, 224],
      parameters: 2_257_984,
      license: 'unknown (Keras MobileNetV2 weights are Apache-2.0; the converted copy states no license)',
      licenseKind: 'unknown',
      source: {
        kind: 'online',
        url: 'https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top/model.json',
        description: "Downloaded once from Teachable Machine's model storage, then kept on this machine.",
      },
      card: {
        summary: 'The base Teachable Machine fine-tunes: plain ImageNet MobileNetV2 without its classifier.',
        trainedOn: 'ImageNet (1,000 everyday object classes).',
        input: '224×224 RGB image.',
        preprocessing: preprocessDescriptions['rgb/127.5-1'],
        limitations: 'License of the converted files is not stated; check before commercial use.',
      },
      // The no-top model ends at out_relu (7×7×1280); the engine adds global average pooling.
      featureLayer: 'out_relu',
      available: false,
      sizeBytes: 9_000_000,
    },
  },
  unsupported('text', 'Text models', 'Tunewise fine-tunes image classifiers only; text models are not supported yet.'),
  unsupported(
    'audio',
    'Audio models',
    'Tunewise fine-tunes image classifiers only; audio models are not supported yet.',
  ),
  unsupported('tabular', 'Tabular models', 'Tables (CSV) need a different kind of model; not supported yet.'),
  unsupported(
    'multimodal',
    'Multimodal models (image + text)',
    'Models like CLIP are too large for the in-app engine on a CPU; not supported yet.',
  ),
]

/** The catalogue entry for a built-in model id, or undefined. */
export function findEntry(modelId: string): CatalogueEntry | undefined {
  return catalogue.find((e) => e.card.id === modelId)
}
