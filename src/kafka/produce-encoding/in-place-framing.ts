/**
 * Frames a Produce request around its body without copying the body. kafkajs frames every
 * request (`protocol/request.js`) by writing a header encoder (API key, version, correlation
 * id, client id) and then the body into it, then a size prefix and that into another: two
 * copies of the body, each into a fresh zero-filled buffer of the next power of two (1 MB for
 * a window end's ~600 KB of results). Those copies and the page faults of the fresh memory
 * were a quarter of a send's CPU.
 *
 * The one-pass encoder leaves room before the body in its buffer (`withHeadroom`); with
 * kafkajs's `Encoder.prototype.writeEncoder` wrapped here, writing such a body into a small
 * encoder moves that encoder's bytes into the room just before the body instead, and the
 * framed encoder becomes a view of the same buffer (with the rest of the room), so the size
 * prefix goes the same way. The bytes are those kafkajs writes; any other encoder, a body
 * whose room is used up or too small, or one written to after it was encoded, takes kafkajs's
 * own path. The prototype is patched, not a module, because `request.js` holds the class
 * from kafkajs's load on.
 */

/** kafkajs's `Encoder` as used here. */
export interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  writeEncoder(value: KafkajsEncoder): KafkajsEncoder;
}

/** Bytes before a body in its buffer: the size prefix, API key, version, correlation id and client id (up to ~300 bytes). */
export const FRAME_HEADROOM_BYTES = 320;

const HEADROOM = Symbol('produce-encoding.headroom');
const PATCHED = Symbol('produce-encoding.in-place-framing');

/** Free room in `backing` before `start`, where the encoder's content begins. */
interface Headroom {
  readonly backing: Buffer;
  readonly start: number;
}

type WithHeadroom = KafkajsEncoder & { [HEADROOM]?: Headroom };

/** Marks `encoder` (whose `buf` is `backing` from `start` on) as having the bytes before `start` free. */
export function withHeadroom<E extends KafkajsEncoder>(encoder: E, backing: Buffer, start: number): E {
  (encoder as WithHeadroom)[HEADROOM] = { backing, start };
  return encoder;
}

/** Wraps `prototype.writeEncoder` (kafkajs's `Encoder.prototype`) once. */
export function installInPlaceFraming(prototype: KafkajsEncoder): void {
  const patched = prototype as KafkajsEncoder & { [PATCHED]?: true };
  if (patched[PATCHED] === true) return;
  const writeEncoder = prototype.writeEncoder;
  prototype.writeEncoder = function writeEncoderInPlace(this: WithHeadroom, value: WithHeadroom) {
    const room = value?.[HEADROOM];
    if (room === undefined || !framesInPlace(this, value, room)) return writeEncoder.call(this, value);
    // One use: the room now holds this encoder's bytes (a second framing of the body copies).
    value[HEADROOM] = undefined;
    const start = room.start - this.offset;
    this.buf.copy(room.backing, start, 0, this.offset);
    this.buf = room.backing.subarray(start, room.start + value.offset);
    this.offset += value.offset;
    this[HEADROOM] = { backing: room.backing, start };
    return this;
  };
  patched[PATCHED] = true;
}

/**
 * Whether `value`'s content still is its buffer's view at `room.start` (nothing grew it into a
 * new buffer) and `encoder`'s bytes fit in the room, with no content of its own framed before.
 */
function framesInPlace(encoder: WithHeadroom, value: KafkajsEncoder, room: Headroom): boolean {
  return (
    encoder[HEADROOM] === undefined &&
    encoder.offset <= room.start &&
    value.buf.buffer === room.backing.buffer &&
    value.buf.byteOffset === room.backing.byteOffset + room.start
  );
}
