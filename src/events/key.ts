/**
 * Keys. A record's key is the string form of its key fields' values, joined with
 * `|` in the configured order: key fields `[model, variant]` on
 * `{model: "gpt-4o", variant: "a"}` give `gpt-4o|a`. Each value goes through
 * `String()`; a missing or null field contributes the empty string, so an event
 * without `variant` keys as `gpt-4o|`. `|` inside a value is not escaped: the
 * joined key is a grouping and partitioning key (and the Kafka message key), and
 * the output record carries the unambiguous key object (`keyObject`).
 */

import { ownField, setField } from '@llm-feedback/stream-operators';

export const KEY_SEPARATOR = '|';

const keyPart = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

/** The joined key of `event` for `keyFields` (see the module comment). */
export function joinKey(event: Readonly<Record<string, unknown>>, keyFields: readonly string[]): string {
  // One key field is the common case: skip the array and the join.
  if (keyFields.length === 1) return keyPart(ownField(event, keyFields[0]!));
  let key = '';
  for (let i = 0; i < keyFields.length; i++) {
    if (i > 0) key += KEY_SEPARATOR;
    key += keyPart(ownField(event, keyFields[i]!));
  }
  return key;
}

/**
 * The key fields of `event` as the output record's `key` object, e.g.
 * `{"model":"gpt-4o"}`. A missing or null field is `null` here (the joined key has
 * the empty string in its place).
 */
export function keyObject(event: Readonly<Record<string, unknown>>, keyFields: readonly string[]): Record<string, string | null> {
  const key: Record<string, string | null> = {};
  for (const field of keyFields) {
    const value = ownField(event, field);
    setField(key, field, value === undefined || value === null ? null : String(value));
  }
  return key;
}
