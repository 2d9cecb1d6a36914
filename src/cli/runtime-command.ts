/** `intstream runtime`: the control plane (HTTP API, embedded storage). */
import { Command } from 'commander';
import { IntstreamError } from '../errors.ts';
import { parseDuration } from './format.ts';
import { token, serveUntilSignal } from './control-options.ts';

export function runtimeCommand(): Command {
  return new Command('runtime')
    .description('the control plane: agents, tasks, results over an HTTP API (OpenAPI at /api/v1/openapi.json)')
    .requiredOption('--kafka <host:port>', 'Kafka broker')
    .option('--port <port>', 'HTTP port', '7070')
    .option('--host <addr>', 'address to bind (loopback by default)', '127.0.0.1')
    .option('--token <token>', 'token agents, workers and mutating calls must present (default $INTSTREAM_TOKEN)')
    .option('--db <file>', 'embedded storage (sqlite file)', 'intstream-runtime.db')
    .option('--grace <duration>', 'default grace time after which a silent agent no longer holds windows open', '30s')
    .option('--down-after <duration>', 'an agent without heartbeat this long is shown down', '3s')
    .addHelpText('after', `
Examples:
  $ INTSTREAM_TOKEN=secret intstream runtime --kafka 127.0.0.1:9092 --port 7070`)
    .action(async (o: Record<string, any>) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new IntstreamError('USAGE', `--port ${o.port}: not a port`);
      if (!process.getBuiltinModule?.('node:sqlite')) {
        throw new IntstreamError('UNSUPPORTED', `the runtime keeps its state with node:sqlite, which this Node (${process.version}) lacks: run the runtime on Node >= 22.13 (agents, GSP workers and run work on Node 20)`);
      }
      const { RuntimeServer } = await import('../control/runtime-server.ts'); // fastify: loaded on use
      const server = new RuntimeServer({
        port, host: o.host, kafka: o.kafka, token: token(o, true)!, db: o.db,
        graceMs: parseDuration(o.grace) * 1000, downAfterMs: parseDuration(o.downAfter) * 1000,
      });
      const url = await server.start();
      process.stderr.write(`intstream runtime: listening on ${url}\n`);
      await serveUntilSignal('runtime', () => server.close());
    });
}
