import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { componentLogger, createLogger } from '../../src/observability/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _enc, done) => { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes JSON lines with the level name, an ISO time and the component of child loggers', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', destination });
    componentLogger(logger, 'checkpoint').info({ id: 3 }, 'checkpoint complete');
    logger.debug('not shown at info');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', component: 'checkpoint', id: 3, msg: 'checkpoint complete', name: 'stream-processor', pid: process.pid });
    expect(lines[0]?.hostname).toEqual(expect.any(String));
    expect(lines[0]?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('logs nothing when silent', () => {
    const { lines, destination } = capture();
    createLogger({ level: 'silent', destination }).fatal('nothing');
    expect(lines).toEqual([]);
  });
});
