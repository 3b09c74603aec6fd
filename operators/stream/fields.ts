/**
 * Field access for names that come from user data or configuration. Metric and
 * key names are arbitrary strings (DESIGN.md, "Formats"), `__proto__`,
 * `constructor` and `toString` included, and plain objects get both wrong:
 * reading a missing `constructor` finds `Object.prototype`'s function, and
 * assigning `__proto__` sets the prototype instead of adding a field.
 */

const hasOwn = Object.prototype.hasOwnProperty;

/** `object[name]` if it is an own property, else undefined. */
export function ownField(object: { readonly [name: string]: unknown }, name: string): unknown {
  const value = object[name];
  // A string cannot come from Object.prototype: the common case skips the own check.
  return typeof value === 'string' || hasOwn.call(object, name) ? value : undefined;
}

/** Adds the field `name` to `target` as an own, enumerable property, even when `name` is `__proto__`. */
export function setField<V>(target: Record<string, V>, name: string, value: V): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}
