import type { Checkpoint } from './types.js';

/**
 * Rejects a checkpoint the store could not give back unchanged. Checked before
 * anything is written, so a bad checkpoint never replaces a good one.
 */
export function validateCheckpoint(checkpoint: Checkpoint): void {
  const fail = (what: string): never => {
    throw new TypeError(`checkpoint ${String(checkpoint.id)}: ${what}`);
  };
  if (!(Number.isSafeInteger(checkpoint.id) && checkpoint.id >= 0)) fail('id must be a non-negative safe integer');
  if (!Number.isFinite(checkpoint.createdAt)) fail('createdAt must be a finite number');
  for (const [partition, position] of Object.entries(checkpoint.positions)) {
    if (partition === '') fail('a source partition has an empty name');
    if (typeof position !== 'string') fail(`position of partition ${partition} must be a string`);
  }
  for (const [sink, length] of Object.entries(checkpoint.sinks)) {
    if (!Number.isFinite(length)) fail(`position of sink ${sink} must be a finite number`);
  }
  for (const [sink, identity] of Object.entries(checkpoint.outputs ?? {})) {
    if (typeof identity.path !== 'string') fail(`output ${sink} must name its file`);
    if (!(Number.isSafeInteger(identity.tailBytes) && identity.tailBytes >= 0)) fail(`output ${sink} tailBytes must be a byte count`);
    if (!(Number.isSafeInteger(identity.tailCrc32) && identity.tailCrc32 >= 0)) fail(`output ${sink} tailCrc32 must be a CRC32`);
  }
  const checkStates = (states: Readonly<Record<string, Uint8Array>>, where: string): void => {
    for (const [operator, state] of Object.entries(states)) {
      if (operator === '') fail(`an operator${where} has an empty name`);
      if (!(state instanceof Uint8Array)) fail(`state of operator ${operator}${where} must be a Uint8Array`);
    }
  };
  checkStates(checkpoint.operators, '');
  for (const [partition, states] of Object.entries(checkpoint.partitions)) {
    if (partition === '') fail('a source partition has an empty name');
    checkStates(states, ` of partition ${partition}`);
  }
}
