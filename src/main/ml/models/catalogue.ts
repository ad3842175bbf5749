/**
 * The model catalogue, as data. Bundled models ship inside npm `nsfwjs@4.4.0`; online ones are downloaded on
 * request from the TF.js model storage; the other task categories are listed so users see what is not there yet.
 */
import type { LicenseInfo, LicenseKind, ModelCard, TaskCategory } from '../../../shared/types'

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

/** The license summaries every card links to, in plain words: may I sell an app with it, must I credit? */
export const licenses = {
  nsfwjsMit: {
    spdx: 'MIT',
    url: 'https://github.com/infinitered/nsfwjs/blob/master/LICENSE',
    summary:
      'MIT license: you may use, change and sell it, also inside a paid app, and models you fine-tune from it may be ' +
      'sold too. You must keep the copyright notice ("Copyright (c) 2019 Infinite Red, Inc.") and the license text ' +
      'with every copy, including with models made from it.',
    commercialUse: 'yes',
    attribution: 'yes',
  },
  tfjsModelsApache: {
    spdx: 'Apache-2.0',
    url: 'https://github.com/tensorflow/tfjs-models/blob/master/LICENSE',
    summary:
      'Apache 2.0 license: you may use, change and sell it, also inside a paid app. Keep the license text with copies ' +
      'and say that you changed the model; no trademark rights are given.',
    commercialUse: 'yes',
    attribution: 'yes',
  },
  unstated: {
    spdx: 'unknown',
    summary:
      'The files state no license. The original Keras MobileNetV2 weights are Apache 2.0, so commercial use is ' +
      'probably fine, but nothing here says so: check with the source before you sell or publish a model made from it.',
    commercialUse: 'unknown',
    attribution: 'unknown',
  },
} satisfies Record<string, LicenseInfo>

/** Said on every ImageNet-based card: the photos' own terms are not the weights' license. */
const imagenetNote =
  "ImageNet's photos may only be used for non-commercial research; models trained on them are widely used in " +
  'products, but that is a legal grey area worth knowing. Its photos over-represent North America and Europe.'

/**
 * The bundled models' history, in plain words for people who never trained a model: what the rating task was,
 * and that Tunewise removes the rating layer so a fine-tuned model never rates content.
 */
const nsfwStory =
  'First trained by Google on ImageNet: 1.28 million everyday photos in 1,000 classes (dogs, cars, cups, ...). ' +
  'The nsfwjs project then trained the whole network further to sort pictures into five ratings (drawing, hentai, ' +
  'neutral, porn, sexy), so websites could filter adult images; that training used about 60 GB of pictures collected ' +
  'from the web, adult ones included. Tunewise removes that rating layer completely: what you build on are the ' +
  "network's general image features (edges, textures, shapes, parts of objects), and your model never rates " +
  'content. Because of the rating training those features pay a little more attention to people and skin than a ' +
  "plain ImageNet model's."

const nsfwOrigin =
  'The npm package nsfwjs 4.4.0 by Infinite Red (https://github.com/infinitered/nsfwjs), which ships the model of ' +
  'the nsfw_model project by Gant Laborde (https://github.com/GantMan/nsfw_model), built on Keras applications.'

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
      summary: `Google's MobileNet v1 with width ${alpha}: a small, fast network that turns a photo into numbers describing what is in it. A smaller width is faster and less accurate.`,
      trainedOn: 'ImageNet: 1.28 million everyday photos in 1,000 classes (dogs, cars, cups, ...), trained by Google.',
      input: '224×224 colour (RGB) image; Tunewise squashes yours to that size.',
      preprocessing: 'RGB scaled to -1…1 (value / 127.5 - 1).',
      size: `${(parameters / 1e6).toFixed(parameters < 1e6 ? 2 : 1)} million parameters, a ${Math.round(sizeBytes / 1e6)} MB download.`,
      licenseInfo: licenses.tfjsModelsApache,
      origin:
        `Google's TensorFlow.js model storage (tfjs-models, https://github.com/tensorflow/tfjs-models): ` +
        `https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_${alpha}_224/model.json`,
      limitations: `Older design: weaker features than MobileNetV2 at the same speed. Knows photos of everyday things; weaker on medical, satellite or microscope images, text and tiny details. ${imagenetNote}`,
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
    card: { summary: reason, trainedOn: '', input: '', preprocessing: '', limitations: reason, warnings: [] },
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
      source: {
        kind: 'bundled',
        url: 'https://github.com/infinitered/nsfwjs',
        description: 'Ships with Tunewise inside the npm package nsfwjs 4.4.0 (MIT).',
      },
      card: {
        summary:
          'A small, fast image-recognition network (MobileNetV2) that turns a picture into 1,280 numbers describing ' +
          'what is in it; Tunewise trains a new final layer on those numbers for your classes. The recommended ' +
          'starting point on an ordinary computer.',
        trainedOn: nsfwStory,
        input: '224×224 colour (RGB) image; Tunewise squashes yours to that size (no cropping).',
        preprocessing: preprocessDescriptions['rgb/255'],
        size:
          '2.6 million parameters; 3.5 MB inside the nsfwjs package (weights rounded to 8 bits). A model you export ' +
          'from it is about 9 MB.',
        licenseInfo: licenses.nsfwjsMit,
        origin: nsfwOrigin,
        limitations:
          'Knows what photos and drawings look like, not what they mean: good for objects, animals, plants, products ' +
          'and scenes; weaker for medical, satellite or microscope images, text and tiny details. Its weights are ' +
          'rounded to 8 bits, which costs a little accuracy. Features come from its flatten_1 layer (1,280 values ' +
          `after a 7×7 average pooling); the old 256-128-5 rating layers are replaced by your head. ${imagenetNote}`,
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
      source: {
        kind: 'bundled',
        url: 'https://github.com/infinitered/nsfwjs',
        description: 'Ships with Tunewise inside the npm package nsfwjs 4.4.0 (MIT), 29 MB.',
      },
      card: {
        summary:
          'A larger, slower image-recognition network (InceptionV3, 22 million parameters, about 8× the work of ' +
          'MobileNetV2) that turns a picture into 2,048 numbers describing what is in it.',
        trainedOn: nsfwStory,
        input: '299×299 colour (RGB) image; Tunewise squashes yours to that size (no cropping).',
        preprocessing: preprocessDescriptions['rgb/255'],
        size:
          '22.4 million parameters; 29 MB inside the nsfwjs package (weights rounded to 8 bits). A model you export ' +
          'from it is about 90 MB.',
        licenseInfo: licenses.nsfwjsMit,
        origin: nsfwOrigin,
        limitations:
          'Slow without a GPU; on real photos Tunewise measured it below MobileNetV2 (0.69–0.73 against 0.85–0.90). ' +
          'Weaker for medical, satellite or microscope images, text and tiny details. Features come from flatten_1 ' +
          `(2,048 values after an 8×8 average pooling over mixed10); the old rating layers are replaced by your head. ${imagenetNote}`,
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
        summary:
          'The network Teachable Machine fine-tunes: plain ImageNet MobileNetV2 without its classifier, turning a ' +
          'picture into 1,280 numbers describing what is in it.',
        trainedOn:
          'ImageNet: 1.28 million everyday photos in 1,000 classes (dogs, cars, cups, ...), trained by Google.',
        input: '224×224 colour (RGB) image; Tunewise squashes yours to that size.',
        preprocessing: preprocessDescriptions['rgb/127.5-1'],
        size: '2.3 million parameters, a 9 MB download.',
        licenseInfo: licenses.unstated,
        origin:
          "Teachable Machine's model storage (Google): https://storage.googleapis.com/teachable-machine-models/" +
          'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top/model.json',
        limitations: `Knows photos of everyday things; weaker on medical, satellite or microscope images, text and tiny details. ${imagenetNote}`,
        warnings: ['The license of these converted files is not stated. Check it before commercial use.'],
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

/** Hugging Face's license ids (lower-case SPDX) that Tunewise can summarise, with what they allow. */
const knownLicenses: Record<string, { kind: LicenseKind; info: LicenseInfo }> = {
  mit: {
    kind: 'permissive',
    info: {
      spdx: 'MIT',
      url: 'https://opensource.org/license/mit',
      summary:
        'MIT license: you may use, change and sell it, also inside a paid app. Keep the copyright notice and the ' +
        'license text with every copy.',
      commercialUse: 'yes',
      attribution: 'yes',
    },
  },
  'apache-2.0': {
    kind: 'permissive',
    info: { ...licenses.tfjsModelsApache, url: 'https://www.apache.org/licenses/LICENSE-2.0' },
  },
  'bsd-3-clause': {
    kind: 'permissive',
    info: {
      spdx: 'BSD-3-Clause',
      url: 'https://opensource.org/license/bsd-3-clause',
      summary:
        "BSD 3-clause license: you may use, change and sell it. Keep the copyright notice; do not use the authors' names to promote your product.",
      commercialUse: 'yes',
      attribution: 'yes',
    },
  },
  'cc-by-4.0': {
    kind: 'permissive',
    info: {
      spdx: 'CC-BY-4.0',
      url: 'https://creativecommons.org/licenses/by/4.0/',
      summary: 'Creative Commons Attribution 4.0: you may use, change and sell it if you credit the authors.',
      commercialUse: 'yes',
      attribution: 'yes',
    },
  },
  'cc0-1.0': {
    kind: 'permissive',
    info: {
      spdx: 'CC0-1.0',
      url: 'https://creativecommons.org/publicdomain/zero/1.0/',
      summary: 'Public domain (CC0): you may do anything with it; no credit is required.',
      commercialUse: 'yes',
      attribution: 'no',
    },
  },
  'cc-by-nc-4.0': {
    kind: 'non-commercial',
    info: {
      spdx: 'CC-BY-NC-4.0',
      url: 'https://creativecommons.org/licenses/by-nc/4.0/',
      summary:
        'Creative Commons Attribution-NonCommercial 4.0: you may not sell it or anything made from it, nor use it in ' +
        'a paid product; credit the authors.',
      commercialUse: 'no',
      attribution: 'yes',
    },
  },
}

/** What an unknown license means for the user, said the same way everywhere. */
export const UNKNOWN_LICENSE_WARNING =
  'The license is unknown: the files do not say who may use this model or how. Find out from where you got it ' +
  'before you share or sell anything made from it.'

/**
 * A license name as files state it ("MIT", "apache-2.0", "Apache License 2.0") → its plain summary and kind.
 * Anything else is `unknown` with the name kept, so nobody reads a guess as a permission.
 */
export function licenseFromName(name: string | undefined): { kind: LicenseKind; info: LicenseInfo } {
  const key = (name ?? '')
    .trim()
    .toLowerCase()
    .replace(/^the\s+/, '')
    .replace(/\s+license$/, '')
    .replace(/^apache(\s+license)?[\s-]*(version\s*)?2(\.0)?$/, 'apache-2.0')
  const known = knownLicenses[key]
  if (known) return known
  return {
    kind: 'unknown',
    info: {
      spdx: 'unknown',
      summary: name
        ? `The files name the license "${name}", which Tunewise cannot summarise: read it before you share or sell anything made from this model.`
        : UNKNOWN_LICENSE_WARNING,
      commercialUse: 'unknown',
      attribution: 'unknown',
    },
  }
}

/** A license file's text → its name, for the few licenses recognisable from their first lines. */
export function licenseNameFromText(text: string): string | undefined {
  if (/Permission is hereby granted, free of charge/i.test(text)) return 'MIT'
  if (/Apache License[\s\S]{0,40}Version 2\.0/i.test(text)) return 'apache-2.0'
  if (/Attribution-NonCommercial 4\.0/i.test(text)) return 'cc-by-nc-4.0'
  if (/Redistribution and use in source and binary forms/i.test(text) && /Neither the name/i.test(text))
    return 'bsd-3-clause'
  return undefined
}
