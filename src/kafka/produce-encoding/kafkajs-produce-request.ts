/**
 * Puts `encodeProduceRequest` under kafkajs's producer: kafkajs has no place to plug an
 * encoder in (its Produce request encodes every record itself before any codec runs),
 * so the module that builds Produce requests v3–v7 (`produce/v3/request.js`; v4–v7 wrap
 * it) is replaced in Node's module cache by one that keeps kafkajs's request (API key,
 * version, response handling, retries, idempotence and transactions stay kafkajs's) and
 * encodes its body in one pass, with room before it in its buffer where kafkajs's
 * framing then writes the request header (`in-place-framing.ts`) instead of copying the
 * body twice. kafkajs loads that module on the first send, so installing before a producer
 * sends is enough.
 *
 * Only kafkajs 2.2.4 is changed (the last release: the bytes are compared with its own
 * encoder in the tests); requests the fast path does not take (compression, unusual
 * message shapes) are encoded by kafkajs as before.
 */
import { createRequire } from 'node:module';
import { FRAME_HEADROOM_BYTES, installInPlaceFraming, withHeadroom, type KafkajsEncoder } from './in-place-framing.js';
import { encodeProduceRequest, type ProduceTopicData } from './produce-request.js';

const require = createRequire(import.meta.url);

/** The kafkajs release whose Produce request bytes `encodeProduceRequest` reproduces. */
export const KAFKAJS_VERSION = '2.2.4';
export const PRODUCE_REQUEST_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request.js';

/** What kafkajs passes to its Produce request factory (`broker.produce`). */
export interface KafkajsProduceArguments {
  readonly acks: number;
  readonly timeout: number;
  readonly transactionalId?: string | null;
  /** kafkajs's producer id: -1, a decimal string, or its `Long`. */
  readonly producerId?: number | string | { readonly value: bigint };
  readonly producerEpoch?: number;
  readonly compression?: number;
  readonly topicData: readonly ProduceTopicData[];
}

export interface KafkajsProduceRequest {
  readonly apiKey: number;
  apiVersion: number;
  readonly apiName: string;
  encode: () => Promise<KafkajsEncoder>;
}

export type KafkajsProduceRequestFactory = (args: KafkajsProduceArguments) => KafkajsProduceRequest;

let installed = false;

/**
 * Makes kafkajs's producers in this thread encode Produce requests with `encodeProduceRequest`.
 * Idempotent; returns whether the encoder is in place (false for another kafkajs version).
 */
export function installProduceRequestEncoder(): boolean {
  if (installed) return true;
  if ((require('kafkajs/package.json') as { version: string }).version !== KAFKAJS_VERSION) return false;
  const path = require.resolve(PRODUCE_REQUEST_MODULE);
  const kafkajsFactory = require(path) as KafkajsProduceRequestFactory;
  const cached = require.cache[path];
  if (cached === undefined) return false;
  cached.exports = withOnePassEncoding(kafkajsFactory);
  installInPlaceFraming(kafkajsEncoderClass().prototype);
  installed = true;
  return true;
}

/** kafkajs's request factory with `encode` replaced where the one-pass encoder takes the request. */
export function withOnePassEncoding(kafkajsFactory: KafkajsProduceRequestFactory): KafkajsProduceRequestFactory {
  const Encoder = kafkajsEncoderClass();
  return function onePassProduceRequest(args) {
    const request = kafkajsFactory(args);
    if ((args.compression ?? 0) !== 0) return request;
    const kafkajsEncode = request.encode;
    request.encode = async () => {
      const body = encodeProduceRequest({
        transactionalId: args.transactionalId ?? null,
        acks: args.acks,
        timeout: args.timeout,
        producerId: producerIdOf(args.producerId),
        producerEpoch: args.producerEpoch ?? 0,
        topicData: args.topicData,
      }, FRAME_HEADROOM_BYTES);
      if (body === undefined) return kafkajsEncode();
      // kafkajs frames a request's body (`buf` up to `offset`): in the room before it when
      // `installInPlaceFraming` is in place, else by copying it.
      const encoder = Object.create(Encoder.prototype) as KafkajsEncoder;
      encoder.buf = body;
      encoder.offset = body.length;
      return withHeadroom(encoder, Buffer.from(body.buffer, body.byteOffset - FRAME_HEADROOM_BYTES, FRAME_HEADROOM_BYTES + body.length), FRAME_HEADROOM_BYTES);
    };
    return request;
  };
}

const kafkajsEncoderClass = (): { prototype: KafkajsEncoder } => require('kafkajs/src/protocol/encoder.js') as { prototype: KafkajsEncoder };

function producerIdOf(value: KafkajsProduceArguments['producerId']): bigint {
  if (value === undefined) return -1n;
  if (typeof value === 'object') return value.value;
  return BigInt(value);
}
