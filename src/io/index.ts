export type { LineBatch } from './line-splitter.js';
export { LineSplitter } from './line-splitter.js';
export type { FileSourceOptions, SourceOptions } from './sources.js';
export type { LineChunk } from './sources.js';
export { fileChunks, fileSource, linesOf, stdinSource, streamChunks, streamSource } from './sources.js';
export type { BufferedLineSink, FileSinkOptions, LineSink, SinkOptions } from './sinks.js';
export { FileSink, fileSink, stdoutSink, streamSink } from './sinks.js';
