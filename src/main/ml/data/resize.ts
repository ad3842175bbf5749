/**
 * How every image is brought to a model's input size. One constant, read by the decoder and by the
 * feature-cache key, so changing the policy also invalidates every cached vector made under the old one.
 */

/** The values of sharp's `resize({ fit })`. */
export type ResizeFit = 'fill' | 'cover' | 'contain' | 'inside' | 'outside'

/**
 * 'fill' squashes the whole image to the input (aspect ratio not kept) rather than centre-cropping: the whole
 * object stays in view, as in Teachable Machine, where cropping would cut off objects near the edges.
 */
export const RESIZE_FIT: ResizeFit = 'fill'
