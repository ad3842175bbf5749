/** Image datasets: decode, scan and report, fingerprint, split, and the synthetic sample. */
export {
  decodeImage,
  decodeImageBuffer,
  hashBuffer,
  hashFile,
  ImageDecodeError,
  MAX_INPUT_PIXELS,
  probeImage,
  probeImageBuffer,
} from './decode'
export type { ImageProbe } from './decode'
export {
  datasetBlockers,
  datasetId,
  differenceHash,
  fingerprint,
  hammingDistance,
  nearDuplicateGroups,
  scanDataset,
} from './scan'
export type { DatasetScan, ScannedFile, ScanOptions, ScanReport, SplitName } from './scan'
export { mulberry32, splitCounts, splitDataset } from './split'
export type { SplitAssignment, SplitInput, SplitOptions, SplitResult } from './split'
export { makeSyntheticDataset } from './synthetic'
export type { SyntheticOptions } from './synthetic'
export { thumbnailDataUrl, thumbnailFromBuffer } from './thumbnail'
