import type { SpacePath } from './kv.js';

/**
 * Key layout. Every checkpoint is one manifest (its completion marker) plus
 * chunked operator states, in three kinds of sublevel:
 *
 *   !checkpoints!<id>                          manifest (see manifest.ts)
 *   !operators!<id>!<operator>!<chunk>         global operator state, chunk by chunk
 *   !partition!!<partition>!<id>!<operator>!<chunk>
 *                                              one sublevel per source partition
 *
 * Ids and chunk numbers are zero-padded so that key order is numeric order and
 * one checkpoint's pieces form one contiguous key range.
 */
export const CHECKPOINTS: SpacePath = ['checkpoints'];
export const OPERATORS: SpacePath = ['operators'];

export const partitionSpace = (partition: string): SpacePath => ['partition', encodeName(partition)];

const ID_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits
const CHUNK_DIGITS = 6;

export const checkpointKey = (id: number): string => String(id).padStart(ID_DIGITS, '0');

export const pieceKey = (id: number, operator: string, chunk: number): string =>
  `${checkpointKey(id)}!${encodeName(operator)}!${String(chunk).padStart(CHUNK_DIGITS, '0')}`;

/** Checkpoint id of a manifest or piece key. */
export const keyId = (key: string): number => Number(key.slice(0, ID_DIGITS));

/**
 * Partition and operator names are free text, but sublevel names only allow
 * bytes 0x23..0x7E and '!' separates key parts. Percent-encoding (with '!'
 * encoded too) yields exactly that alphabet and stays readable for plain names.
 */
function encodeName(name: string): string {
  return encodeURIComponent(name).replaceAll('!', '%21');
}
